// The interpreter against an independent, plainly written f64 Mamba (the computation
// in FORMATS.md), and decode step by step against prefill.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Checkpoint } from '../../src/frontend/checkpoint.ts';
import { buildMambaGraph } from '../../src/frontend/mamba-graph.ts';
import { InterpRunner } from '../../src/backends/interp/runner.ts';
import { Interpreter, interpret } from '../../src/ir/interpreter.ts';
import { liftToSequence } from '../../src/ir/sequence.ts';
import { graphDiff } from '../../src/ir/graph-equal.ts';
import { parseGraph, printGraph } from '../../src/ir/text/index.ts';
import { WeightStore } from '../../src/ir/weights.ts';
import { arbConfig, randomCheckpoint } from '../helpers/random-model.ts';
import { seed } from '../helpers/paths.ts';

/** Reference Mamba-1 recurrent form, f64 throughout, written from FORMATS.md. */
function referenceLogits(ck: Checkpoint, tokens: number[]): number[][] {
  const c = ck.config;
  const T = (n: string) => Array.from(ck.tensors.get(n)!.data as Float32Array);
  const { dModel: d, dInner: e, dState: s, dConv: k, dtRank: r, vocabSize: V } = c;
  const conv = Array.from({ length: c.nLayer }, () => new Array(e * k).fill(0));
  const ssm = Array.from({ length: c.nLayer }, () => new Array(e * s).fill(0));
  const matvec = (W: number[], rows: number, cols: number, x: number[], b?: number[]) =>
    Array.from({ length: rows }, (_, i) => x.reduce((acc, xv, j) => acc + W[i * cols + j] * xv, 0) + (b ? b[i] : 0));
  const rms = (h: number[], w: number[]) => {
    const ms = h.reduce((a, v) => a + v * v, 0) / h.length;
    return h.map((v, i) => (v / Math.sqrt(ms + c.normEps)) * w[i]);
  };
  const silu = (v: number) => v / (1 + Math.exp(-v));
  const softplus = (v: number) => (v > 20 ? v : Math.log(1 + Math.exp(v)));
  const out: number[][] = [];
  for (const tok of tokens) {
    let h = T('embedding').slice(tok * d, tok * d + d);
    for (let l = 0; l < c.nLayer; l++) {
      const p = `l${l}.`;
      const opt = (n: string) => (ck.tensors.has(n) ? T(n) : undefined);
      const xz = matvec(T(`${p}in_proj`), 2 * e, d, rms(h, T(`${p}norm`)), opt(`${p}in_proj.bias`));
      const cw = T(`${p}conv.weight`);
      const cb = opt(`${p}conv.bias`);
      const x: number[] = [];
      for (let ch = 0; ch < e; ch++) {
        for (let j = 0; j < k - 1; j++) conv[l][ch * k + j] = conv[l][ch * k + j + 1];
        conv[l][ch * k + k - 1] = xz[ch];
        let acc = cb ? cb[ch] : 0;
        for (let j = 0; j < k; j++) acc += cw[ch * k + j] * conv[l][ch * k + j];
        x.push(silu(acc));
      }
      const dbc = matvec(T(`${p}x_proj`), r + 2 * s, e, x);
      const dt = matvec(T(`${p}dt_proj`), e, r, dbc.slice(0, r), T(`${p}dt_proj.bias`)).map(softplus);
      const B = dbc.slice(r, r + s);
      const C = dbc.slice(r + s);
      const A = T(`${p}A`);
      const D = T(`${p}D`);
      const y: number[] = [];
      for (let ch = 0; ch < e; ch++) {
        let acc = 0;
        for (let j = 0; j < s; j++) {
          const st = Math.exp(dt[ch] * A[ch * s + j]) * ssm[l][ch * s + j] + dt[ch] * x[ch] * B[j];
          ssm[l][ch * s + j] = st;
          acc += st * C[j];
        }
        y.push((acc + D[ch] * x[ch]) * silu(xz[e + ch]));
      }
      const o = matvec(T(`${p}out_proj`), d, e, y, opt(`${p}out_proj.bias`));
      h = h.map((v, i) => v + o[i]);
    }
    const hf = rms(h, T('norm_f'));
    out.push(matvec(T(c.tiedHead ? 'embedding' : 'lm_head'), V, d, hf));
  }
  return out;
}

const arbCase = arbConfig.chain((config) =>
  fc.record({
    config: fc.constant(config),
    seed: fc.integer({ min: 1, max: 1e9 }),
    tokens: fc.array(fc.integer({ min: 0, max: config.vocabSize - 1 }), { minLength: 1, maxLength: 9 }),
  }),
);

describe('interpreter on Mamba graphs', () => {
  it('decode step by step matches an independent f64 implementation', () => {
    fc.assert(
      fc.property(arbCase, ({ config, seed: s, tokens }) => {
        const ck = randomCheckpoint(config, s);
        const runner = new InterpRunner(buildMambaGraph(ck));
        const ref = referenceLogits(ck, tokens);
        tokens.forEach((t, i) => {
          const got = runner.step(t);
          ref[i].forEach((v, j) => expect(Math.abs(got[j] - v)).toBeLessThanOrEqual(1e-4 * (1 + Math.abs(v))));
        });
      }),
      { seed, numRuns: 60 },
    );
  });

  it('prefill equals decode step by step exactly, including the final state', () => {
    fc.assert(
      fc.property(arbCase, ({ config, seed: s, tokens }) => {
        const ck = randomCheckpoint(config, s);
        const stepper = new InterpRunner(buildMambaGraph(ck));
        const steps = tokens.flatMap((t) => Array.from(stepper.step(t)));
        const pre = new InterpRunner(buildMambaGraph(ck), { prefillGraph: (L) => buildMambaGraph(ck, { mode: 'prefill', seqLen: L }) });
        const all = pre.prefill(Int32Array.from(tokens));
        expect(Array.from(all)).toEqual(steps);
        expect(pre.saveState()).toEqual(stepper.saveState());
      }),
      { seed, numRuns: 60 },
    );
  });

  it('state save/restore resumes exactly', () => {
    const ck = randomCheckpoint({ dModel: 8, nLayer: 2, vocabSize: 11, dState: 4, dConv: 4, expand: 2, dInner: 16, dtRank: 2, normEps: 1e-5, tiedHead: true, convBias: true, projBias: false }, 7);
    const r = new InterpRunner(buildMambaGraph(ck));
    r.step(3);
    r.step(5);
    const snap = r.saveState();
    const a = Array.from(r.step(7));
    r.reset();
    r.restoreState(snap);
    expect(Array.from(r.step(7))).toEqual(a);
  });
});

describe('interpreter observation', () => {
  it('reports every node once, in order, with the tensors it computed', () => {
    const ck = randomCheckpoint({ dModel: 4, nLayer: 1, vocabSize: 5, dState: 2, dConv: 2, expand: 2, dInner: 8, dtRank: 1, normEps: 1e-5, tiedHead: true, convBias: true, projBias: false }, 3);
    const g = buildMambaGraph(ck);
    const seen: string[] = [];
    const inputs: Record<string, Float32Array | Int32Array> = { token: Int32Array.of(2), 'conv.0': new Float32Array(16), 'ssm.0': new Float32Array(16) };
    const out = new Interpreter(g).run(inputs, {
      observe: (node, _ins, outs) => {
        seen.push(node.outputs[0].name);
        expect(outs.length).toBe(node.outputs.length);
      },
    });
    expect(seen).toEqual(g.nodes.map((n) => n.outputs[0].name));
    expect(out.logits.data.length).toBe(5);
  });
});

describe('liftToSequence', () => {
  it('lifting the decode graph gives exactly the prefill graph the frontend builds', () => {
    fc.assert(
      fc.property(arbConfig, fc.integer({ min: 1, max: 1e6 }), fc.integer({ min: 1, max: 7 }), (config, s, L) => {
        const ck = randomCheckpoint(config, s);
        const lifted = liftToSequence(buildMambaGraph(ck), L, { name: 'mamba_prefill' });
        const built = buildMambaGraph(ck, { mode: 'prefill', seqLen: L });
        expect(graphDiff(lifted, built)).toBeUndefined();
      }),
      { seed, numRuns: 40 },
    );
  });

  it('lifts fused bodies, and a lifted random graph still verifies', () => {
    const text = [
      'graph @g {',
      '  input %t : i32[]',
      '  input %s : f32[3,2]',
      '  weight @emb : f32[5,3]',
      '  weight @cw : f32[3,2]',
      '  %e = nn.embedding(@emb, %t) : f32[3]',
      '  %y, %s2 = fused.group(%s, %e, @cw) {kernel = "conv_silu"} : f32[3], f32[3,2] {',
      '    param %p0 : f32[3,2]',
      '    param %p1 : f32[3]',
      '    param %p2 : f32[3,2]',
      '    %c, %st = ssm.conv1d_step(%p0, %p1, %p2) : f32[3], f32[3,2]',
      '    %a = ew.silu(%c) : f32[3]',
      '    yield %a, %st',
      '  }',
      '  return %y, %s2',
      '}',
      '',
    ].join('\n');
    const weights = new WeightStore([['emb', Float32Array.from({ length: 15 }, (_, i) => i / 7 - 1)], ['cw', Float32Array.from({ length: 6 }, (_, i) => 0.3 * i - 0.5)]]);
    const g = parseGraph(text, { weights }).graph;
    const lifted = liftToSequence(g, 4);
    expect(printGraph(lifted)).toContain('ssm.conv1d(%p0, %p1, %p2) : f32[4,3], f32[3,2]');
    // Running the lifted graph equals running the one-token graph four times.
    const toks = [1, 4, 0, 2];
    const seqOut = interpret(lifted, { t: toks, s: new Float32Array(6) });
    let state: Float32Array = new Float32Array(6);
    toks.forEach((t, i) => {
      const o = interpret(g, { t: [t], s: state });
      expect(Array.from(seqOut.y.data.subarray(i * 3, i * 3 + 3))).toEqual(Array.from(o.y.data));
      state = o.s2.data as Float32Array;
    });
    expect(Array.from(seqOut.s2.data)).toEqual(Array.from(state));
  });
});
