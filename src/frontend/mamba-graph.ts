// Builds the IR of a Mamba-1 model from a checkpoint: a decode graph (one token,
// conv and SSM state as explicit inputs and outputs) or a prefill graph (a sequence,
// same state convention), so prefill followed by decode is one consistent model.
import { GraphBuilder } from '../ir/builder.ts';
import type { Graph, Value } from '../ir/graph.ts';
import type { DType } from '../ir/types.ts';
import { tensorType } from '../ir/types.ts';
import { SsmcError } from '../errors.ts';
import type { Checkpoint, MambaConfig } from './checkpoint.ts';
import { expectedTensors } from './checkpoint.ts';

export type GraphMode = 'decode' | 'prefill';

export interface MambaGraphOptions {
  readonly mode?: GraphMode;
  /** Sequence length of a prefill graph. */
  readonly seqLen?: number;
}

/** Graph input/output names, shared by every runner of these graphs. */
export const io = {
  /** i32[] in a decode graph, i32[L] in a prefill graph. */
  token: 'token',
  logits: 'logits',
  conv: (i: number) => `conv.${i}`,
  ssm: (i: number) => `ssm.${i}`,
  convNext: (i: number) => `conv.${i}.next`,
  ssmNext: (i: number) => `ssm.${i}.next`,
} as const;

export function buildMambaGraph(ck: Checkpoint, opts: MambaGraphOptions = {}): Graph {
  const mode = opts.mode ?? 'decode';
  const L = opts.seqLen ?? 1;
  if (mode === 'prefill' && !(Number.isSafeInteger(L) && L >= 1)) throw new SsmcError('E_ARG', `prefill needs a sequence length >= 1, got ${opts.seqLen}`);
  const c = ck.config;
  const seq = mode === 'prefill';
  const b = new GraphBuilder(`mamba_${mode}`, configAttrs(c, mode, seq ? L : undefined));
  const { dInner: e, dState: s, dConv: k, dtRank: r } = c;

  const tokens = b.input(io.token, tensorType('i32', seq ? [L] : []));
  const convIn: Value[] = [];
  const ssmIn: Value[] = [];
  for (let i = 0; i < c.nLayer; i++) {
    convIn.push(b.input(io.conv(i), tensorType('f32', [e, k])));
    ssmIn.push(b.input(io.ssm(i), tensorType('f32', [e, s])));
  }
  const w = new Map<string, Value>();
  for (const [name, shape] of expectedTensors(c)) {
    const t = ck.tensors.get(name);
    if (!t) throw new SsmcError('E_MISSING_TENSOR', `checkpoint has no tensor '${name}'`, { file: ck.source, what: name });
    w.set(name, b.weight(name, tensorType(t.dtype as DType, shape), t.data));
  }
  const W = (name: string) => w.get(name)!;
  const opt = (name: string) => (w.has(name) ? [w.get(name)!] : []);

  let h = b.op1('nn.embedding', [W('embedding'), tokens], {}, 'h.0');
  const convOut: Value[] = [];
  const ssmOut: Value[] = [];
  for (let i = 0; i < c.nLayer; i++) {
    const p = `l${i}.`;
    const hn = b.op1('nn.rms_norm', [h, W(`${p}norm`)], { eps: c.normEps }, `${p}hn`);
    const xz = b.op1('nn.linear', [hn, W(`${p}in_proj`), ...opt(`${p}in_proj.bias`)], {}, `${p}xz`);
    const [x0, z] = b.op('tensor.split', [xz], { sizes: [e, e] }, { names: [`${p}x0`, `${p}z`] });
    const [xc, convNext] = b.op(seq ? 'ssm.conv1d' : 'ssm.conv1d_step', [convIn[i], x0, W(`${p}conv.weight`), ...opt(`${p}conv.bias`)], {}, { names: [`${p}xc`, io.convNext(i)] });
    const x = b.op1('ew.silu', [xc], {}, `${p}x`);
    const dbc = b.op1('nn.linear', [x, W(`${p}x_proj`)], {}, `${p}dbc`);
    const [dtIn, B, C] = b.op('tensor.split', [dbc], { sizes: [r, s, s] }, { names: [`${p}dt_in`, `${p}B`, `${p}C`] });
    const dtLin = b.op1('nn.linear', [dtIn, W(`${p}dt_proj`), W(`${p}dt_proj.bias`)], {}, `${p}dt_lin`);
    const dt = b.op1('ew.softplus', [dtLin], {}, `${p}dt`);
    const [y0, ssmNext] = b.op(seq ? 'ssm.scan' : 'ssm.scan_step', [ssmIn[i], x, dt, W(`${p}A`), B, C], {}, { names: [`${p}y0`, io.ssmNext(i)] });
    const dx = b.op1('ew.mul', [x, W(`${p}D`)], {}, `${p}dx`);
    const y1 = b.op1('ew.add', [y0, dx], {}, `${p}y1`);
    const gate = b.op1('ew.silu', [z], {}, `${p}gate`);
    const y = b.op1('ew.mul', [y1, gate], {}, `${p}y`);
    const o = b.op1('nn.linear', [y, W(`${p}out_proj`), ...opt(`${p}out_proj.bias`)], {}, `${p}out`);
    h = b.op1('ew.add', [h, o], {}, `h.${i + 1}`);
    convOut.push(convNext);
    ssmOut.push(ssmNext);
  }
  const hf = b.op1('nn.rms_norm', [h, W('norm_f')], { eps: c.normEps }, 'h.final');
  const logits = b.op1('nn.linear', [hf, W(c.tiedHead ? 'embedding' : 'lm_head')], {}, io.logits);
  b.output(logits);
  for (let i = 0; i < c.nLayer; i++) b.output(convOut[i], ssmOut[i]);
  return b.build();
}

function configAttrs(c: MambaConfig, mode: GraphMode, seqLen?: number) {
  return {
    mode,
    ...(seqLen !== undefined ? { seq_len: seqLen } : {}),
    d_model: c.dModel,
    n_layer: c.nLayer,
    vocab_size: c.vocabSize,
    d_inner: c.dInner,
    d_state: c.dState,
    d_conv: c.dConv,
    dt_rank: c.dtRank,
    eps: c.normEps,
    tied_head: c.tiedHead,
  };
}
