// The model every importer produces and every writer consumes: a validated Mamba-1
// configuration and its tensors under canonical names (the IR's weight names).
import type { RawTensor } from './raw-tensor.ts';

export interface MambaConfig {
  readonly dModel: number;
  readonly nLayer: number;
  /** Rows of the embedding (after any padding to pad_vocab_size_multiple). */
  readonly vocabSize: number;
  readonly dState: number;
  readonly dConv: number;
  readonly expand: number;
  /** d_inner = expand * d_model unless the checkpoint says otherwise. */
  readonly dInner: number;
  readonly dtRank: number;
  readonly normEps: number;
  /** The LM head is the embedding (no separate `lm_head` tensor). */
  readonly tiedHead: boolean;
  readonly convBias: boolean;
  /** in_proj / out_proj carry biases (`use_bias`; false in every released model). */
  readonly projBias: boolean;
}

export type CheckpointFormat = 'hf-transformers' | 'hf-mamba-ssm' | 'gguf' | 'synthetic';

export interface Checkpoint {
  readonly format: CheckpointFormat;
  readonly config: MambaConfig;
  /**
   * Canonical tensors (shapes row-major):
   *   embedding [V,d]; norm_f [d]; lm_head [V,d] (untied only);
   *   l{i}.norm [d]; l{i}.in_proj [2e,d]; l{i}.in_proj.bias [2e]?; l{i}.conv.weight [e,k];
   *   l{i}.conv.bias [e]?; l{i}.x_proj [r+2s,e]; l{i}.dt_proj [e,r]; l{i}.dt_proj.bias [e];
   *   l{i}.A [e,s] (= -exp(A_log), always f32); l{i}.D [e]; l{i}.out_proj [d,e]; l{i}.out_proj.bias [d]?
   */
  readonly tensors: ReadonlyMap<string, RawTensor>;
  /** Where it came from (a path), for messages. */
  readonly source: string;
  /** Tokenizer data carried by the file (GGUF vocab) or folder (tokenizer.json), if any. */
  readonly tokenizer?: TokenizerSource;
}

export type TokenizerSource =
  | { readonly kind: 'hf-json'; readonly path: string }
  | { readonly kind: 'gguf'; readonly model: string; readonly tokens: readonly string[]; readonly merges?: readonly string[]; readonly tokenTypes?: readonly number[]; readonly bos?: number; readonly eos?: number };

/** Canonical tensor names and shapes a config requires, in a stable order. */
export function expectedTensors(c: MambaConfig): Array<[string, number[]]> {
  const { dModel: d, dInner: e, dState: s, dtRank: r, dConv: k, vocabSize: V } = c;
  const out: Array<[string, number[]]> = [['embedding', [V, d]]];
  for (let i = 0; i < c.nLayer; i++) {
    const p = `l${i}.`;
    out.push([`${p}norm`, [d]], [`${p}in_proj`, [2 * e, d]]);
    if (c.projBias) out.push([`${p}in_proj.bias`, [2 * e]]);
    out.push([`${p}conv.weight`, [e, k]]);
    if (c.convBias) out.push([`${p}conv.bias`, [e]]);
    out.push([`${p}x_proj`, [r + 2 * s, e]], [`${p}dt_proj`, [e, r]], [`${p}dt_proj.bias`, [e]], [`${p}A`, [e, s]], [`${p}D`, [e]], [`${p}out_proj`, [d, e]]);
    if (c.projBias) out.push([`${p}out_proj.bias`, [d]]);
  }
  out.push(['norm_f', [d]]);
  if (!c.tiedHead) out.push(['lm_head', [V, d]]);
  return out;
}

export function parameterCount(c: MambaConfig): number {
  let n = 0;
  for (const [, shape] of expectedTensors(c)) n += shape.reduce((a, b) => a * b, 1);
  return n;
}
