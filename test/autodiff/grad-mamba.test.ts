// The whole-graph gradient of a distillation loss on small random Mamba models (every
// op of the sequence graph on the path) against central finite differences, plus the
// typed error for an op without a rule.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { klToTeacher, logSoftmax, valueAndGrad, differentiableWeights } from '../../src/autodiff/index.ts';
import { buildMambaGraph } from '../../src/frontend/mamba-graph.ts';
import type { Graph } from '../../src/ir/graph.ts';
import { makeGraph } from '../../src/ir/graph.ts';
import { interpret } from '../../src/ir/interpreter.ts';
import { liftToSequence } from '../../src/ir/sequence.ts';
import { WeightStore } from '../../src/ir/weights.ts';
import { runPass } from '../../src/passes/pass.ts';
import { fuseOps } from '../../src/passes/builtins.ts';
import { Prng } from '../../src/util/prng.ts';
import { isSsmcError } from '../../src/errors.ts';
import { arbConfig, randomCheckpoint } from '../helpers/random-model.ts';
import { dot, expectDirectional, uniform } from './fd.ts';

function zeroStates(g: Graph): Record<string, Float32Array> {
  const z: Record<string, Float32Array> = {};
  for (const v of g.inputs) if (v.type.dtype !== 'i32') z[v.name] = new Float32Array(v.type.shape.reduce((a, b) => a * b, 1));
  return z;
}

function klLoss(g: Graph, tokens: Int32Array, teacher: Float32Array): number {
  const y = interpret(g, { ...zeroStates(g), token: tokens }).logits;
  const [L, V] = y.type.shape;
  return klToTeacher(y.data, teacher, L, V).loss;
}

describe('valueAndGrad on a Mamba sequence graph', () => {
  it('matches finite differences of KL(teacher ‖ model) along random weight directions', () => {
    fc.assert(
      fc.property(arbConfig, fc.integer({ min: 1, max: 2 ** 30 }), fc.integer({ min: 2, max: 6 }), (c, seed, L) => {
        const g = liftToSequence(buildMambaGraph(randomCheckpoint(c, seed), { mode: 'decode' }), L);
        const r = new Prng(seed, 'grad-mamba');
        const V = c.vocabSize;
        const tokens = Int32Array.from({ length: L }, () => Math.floor(r.float() * V));
        const teacher = logSoftmax(uniform(r, L * V, -2, 2), L, V);
        const wrt = differentiableWeights(g);
        const res = valueAndGrad(g, { ...zeroStates(g), token: tokens }, wrt, (outs) => {
          const k = klToTeacher(outs.logits.data, teacher, L, V);
          return { loss: k.loss, grads: { logits: k.grad } };
        });
        expect(res.loss).toBeCloseTo(klLoss(g, tokens, teacher), 6);
        const dirs = new Map(wrt.map((w) => [w, uniform(r, g.weightData.get(w).length)]));
        let analytic = 0;
        for (const w of wrt) analytic += dot(res.grads.get(w)!, dirs.get(w)!);
        const eps = 1e-3;
        const f = (sign: number) => {
          let store = g.weightData;
          for (const w of wrt) {
            const base = g.weightData.get(w) as Float32Array;
            const d = dirs.get(w)!;
            store = store.with(w, Float32Array.from(base, (x, i) => x + sign * eps * d[i]));
          }
          return klLoss(makeGraph({ ...g, weightData: new WeightStore(store.entries()) }), tokens, teacher);
        };
        expectDirectional(f, eps, analytic, `config ${JSON.stringify(c)} seed ${seed} L ${L}`, 3e-2, 1e-4);
      }),
      { numRuns: 25 },
    );
  });

  it('names the op when a gradient has to pass through one without a rule', () => {
    const c = { dModel: 8, nLayer: 1, vocabSize: 5, dState: 2, dConv: 2, expand: 2, dtRank: 2, dInner: 16, tiedHead: true, convBias: true, projBias: false, normEps: 1e-5 };
    const fused = runPass(fuseOps, buildMambaGraph(randomCheckpoint(c, 3), { mode: 'decode' }));
    const seq = liftToSequence(fused, 3);
    let err: unknown;
    try {
      valueAndGrad(seq, { ...zeroStates(seq), token: [1, 2, 3] }, differentiableWeights(seq), () => ({ loss: 0, grads: {} }));
    } catch (e) {
      err = e;
    }
    expect(isSsmcError(err) && err.code, String(err)).toBe('E_UNSUPPORTED');
    expect(String((err as Error).message)).toContain('fused.group');
  });
});
