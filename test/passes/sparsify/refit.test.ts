// Compensation toward the dense outputs (refit) and the calibrator pieces it and the
// sensitivity measurement use: the cross-Gram matrix, the least-squares refit, the
// inputs/statsOf path, and KL(dense ‖ pruned).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { MambaConfig } from '../../../src/frontend/checkpoint.ts';
import { buildMambaGraph } from '../../../src/frontend/mamba-graph.ts';
import { Calibrator, statsOf } from '../../../src/passes/analysis/calibration.ts';
import { crossGram, refitToDense } from '../../../src/passes/sparsity/refit.ts';
import { findTargets, parseLayers, DEFAULT_LAYERS } from '../../../src/passes/sparsity/targets.ts';
import { lcg, randomCheckpoint } from '../../helpers/random-model.ts';
import { arbLayer, gram } from './helpers.ts';

const seed = Number(process.env.FC_SEED ?? 42);
const params = { seed, numRuns: 40 };

/** X_p: X_d with a perturbation, as the inputs of an already-pruned model would be. */
function perturbed(X: Float64Array, s: number): Float64Array {
  const rnd = lcg(s);
  return X.map((v) => v * (0.8 + 0.4 * rnd()) + 0.1 * (rnd() - 0.5));
}

/** ‖X_d Wᵀ − X_p Ŵᵀ‖² + λ‖Ŵ − W‖², directly from the token rows. */
function objective(W: Float64Array, What: Float64Array, Xd: Float64Array, Xp: Float64Array, rows: number, K: number, T: number, lambda: number): number {
  let e = 0;
  for (let r = 0; r < rows; r++) {
    for (let t = 0; t < T; t++) {
      let s = 0;
      for (let j = 0; j < K; j++) s += W[r * K + j] * Xd[t * K + j] - What[r * K + j] * Xp[t * K + j];
      e += s * s;
    }
    for (let j = 0; j < K; j++) e += lambda * (What[r * K + j] - W[r * K + j]) ** 2;
  }
  return e;
}

function lambdaOf(H: Float64Array, K: number, damp: number): number {
  let s = 0;
  let live = 0;
  for (let i = 0; i < K; i++) if (H[i * K + i] > 0) (s += H[i * K + i]), live++;
  return Math.max(damp, 1e-6) * (s / live);
}

describe('refit toward the dense outputs', () => {
  it('crossGram(X, X) is XᵀX', () => {
    fc.assert(
      fc.property(arbLayer, (L) => {
        const C = crossGram(L.X, L.X, L.K);
        const H = gram(L.X, L.T, L.K);
        for (let i = 0; i < H.length; i++) expect(Math.abs(C[i] - H[i])).toBeLessThanOrEqual(1e-9 * (1 + Math.abs(H[i])));
      }),
      params,
    );
  });

  it('with the same inputs (nothing pruned upstream) the refit is W itself', () => {
    fc.assert(
      fc.property(arbLayer, fc.constantFrom(0, 0.001, 0.1), (L, damp) => {
        const Ws = refitToDense(L.W, L.rows, L.K, L.H, crossGram(L.X, L.X, L.K), damp);
        let scale = 0;
        for (const v of L.W) scale = Math.max(scale, Math.abs(v));
        for (let i = 0; i < Ws.length; i++) expect(Math.abs(Ws[i] - L.W[i])).toBeLessThanOrEqual(1e-6 * (1 + scale));
      }),
      params,
    );
  });

  it('minimises the regularised dense-target error: no worse than W, and stationary', () => {
    fc.assert(
      fc.property(arbLayer, fc.nat(), fc.constantFrom(0.001, 0.01), (L, s, damp) => {
        const Xp = perturbed(L.X, s);
        const Hp = gram(Xp, L.T, L.K);
        const Ws = refitToDense(L.W, L.rows, L.K, Hp, crossGram(Xp, L.X, L.K), damp);
        const lambda = lambdaOf(Hp, L.K, damp);
        const f = (What: Float64Array) => objective(L.W, What, L.X, Xp, L.rows, L.K, L.T, lambda);
        const best = f(Ws);
        expect(best).toBeLessThanOrEqual(f(L.W) * (1 + 1e-9) + 1e-9);
        // Small moves along random directions never lower it (a convex quadratic's minimum).
        const rnd = lcg(s + 3);
        for (let k = 0; k < 4; k++) {
          const step = Ws.map((v) => v + 1e-3 * (rnd() - 0.5));
          expect(f(step)).toBeGreaterThanOrEqual(best - 1e-9 * (1 + best));
        }
        expect(Ws.every(Number.isFinite)).toBe(true);
      }),
      params,
    );
  });

  it('a dead input (zero column of X_p) keeps its weight and stays finite', () => {
    fc.assert(
      fc.property(arbLayer, fc.nat(), (L, s) => {
        const Xp = perturbed(L.X, s);
        const dead = s % L.K;
        for (let t = 0; t < L.T; t++) Xp[t * L.K + dead] = 0;
        const Ws = refitToDense(L.W, L.rows, L.K, gram(Xp, L.T, L.K), crossGram(Xp, L.X, L.K), 0.01);
        expect(Ws.every(Number.isFinite)).toBe(true);
        for (let r = 0; r < L.rows; r++) expect(Ws[r * L.K + dead]).toBeCloseTo(L.W[r * L.K + dead], 9);
      }),
      params,
    );
  });
});

describe('calibrator: inputs and KL', () => {
  const c: MambaConfig = { dModel: 8, nLayer: 2, vocabSize: 12, dState: 2, dConv: 3, expand: 2, dtRank: 4, dInner: 16, normEps: 1e-5, tiedHead: true, convBias: true, projBias: false };
  const graph = buildMambaGraph(randomCheckpoint(c, 5));
  const rnd = lcg(9);
  const tokens = Int32Array.from({ length: 96 }, () => Math.floor(rnd() * 12));
  const targets = findTargets(graph, parseLayers(DEFAULT_LAYERS));

  it('statsOf(inputs) equals collect at every target', () => {
    const cal = new Calibrator(graph, { tokens, window: 32 }, targets);
    for (let j = 0; j < targets.length; j++) {
      const a = cal.collect(graph.weightData);
      const b = statsOf(cal.inputs(graph.weightData), cal.width);
      expect(b.rows).toBe(a.rows);
      for (let i = 0; i < a.H.length; i++) expect(b.H[i]).toBeCloseTo(a.H[i], 9);
      for (let i = 0; i < a.norms.length; i++) expect(b.norms[i]).toBeCloseTo(a.norms[i], 9);
      if (j + 1 < targets.length) cal.advance(graph.weightData);
    }
  });

  it('KL to the dense model is 0 for the dense weights and positive once a matrix changes', () => {
    const cal = new Calibrator(graph, { tokens, window: 32 }, targets);
    const ref = cal.logProbs(graph.weightData);
    expect(ref.length).toBe(3 * 31 * 12);
    expect(cal.kl(graph.weightData, ref)).toBeCloseTo(0, 6);
    for (const t of targets.slice(0, 4)) {
      const w = graph.weightData.get(t.weight) as Float32Array;
      const k = cal.kl(graph.weightData.with(t.weight, w.map((v, i) => (i % 4 < 2 ? 0 : v))), ref);
      expect(k).toBeGreaterThan(0);
      expect(Number.isFinite(k)).toBe(true);
      cal.advance(graph.weightData);
    }
  });
});
