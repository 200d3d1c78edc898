// The pruning numerics on random layers with correlated inputs: C_n^4 exactness, OBS
// against plain re-derivations, compensation never worse than plain pruning, and the
// measured damage equal to the real output error.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { rowDamage, sum } from '../../../src/passes/sparsity/damage.ts';
import { groupMask, pruneByScore, uniformN } from '../../../src/passes/sparsity/masks.ts';
import { obsSweep, prepareHessian } from '../../../src/passes/sparsity/obs.ts';
import { matrixPruner } from '../../../src/passes/sparsity/prune.ts';
import { arbLayer, invert, randomLayer, reconstructionError, sub, zerosPerGroup, type RandomLayer } from './helpers.ts';

const seed = Number(process.env.FC_SEED ?? 42);
const params = { seed, numRuns: 60 };

const arbRowN = (rows: number) => fc.array(fc.integer({ min: 0, max: 4 }), { minLength: rows, maxLength: rows }).map((a) => Uint8Array.from(a));
const withN = arbLayer.chain((L) => fc.tuple(fc.constant(L), arbRowN(L.rows), fc.constantFrom(4, 8, 12, 128)));

function run(method: 'magnitude' | 'wanda' | 'obs', L: RandomLayer, n: Uint8Array, damp = 0.001, blocksize = 128): Float64Array {
  const W = L.W.slice();
  if (method === 'magnitude') pruneByScore(W, L.rows, L.K, n);
  else if (method === 'wanda') pruneByScore(W, L.rows, L.K, n, L.norms);
  else return matrixPruner('obs', L.W, L.rows, L.K, { K: L.K, H: L.H, norms: L.norms, rows: L.T }, { damp, blocksize, what: 'W' }).prune(n).W;
  return W;
}

describe('C_n^4 masks', () => {
  it('groupMask prunes exactly the n smallest scores (ties to the lower index)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 4 }), fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 4, maxLength: 4 }), (n, s) => {
        const m = groupMask(n, s[0], s[1], s[2], s[3]);
        const order = [0, 1, 2, 3].sort((a, b) => s[a] - s[b] || a - b);
        const want = order.slice(0, n).reduce((acc, j) => acc | (1 << j), 0);
        expect(m).toBe(want);
      }),
      params,
    );
  });

  it('every row has exactly its n zeros in every group, all values finite, for every method', () => {
    fc.assert(
      fc.property(withN, ([L, n, bs]) => {
        for (const method of ['magnitude', 'wanda', 'obs'] as const) {
          const W = run(method, L, n, 0.001, bs);
          for (let r = 0; r < L.rows; r++) {
            for (let g = 0; g < L.K / 4; g++) expect(zerosPerGroup(W, r, g, L.K)).toBe(n[r]);
            for (let j = 0; j < L.K; j++) expect(Number.isFinite(W[r * L.K + j])).toBe(true);
          }
        }
      }),
      params,
    );
  });
});

describe('OBS compensation', () => {
  it('never has a larger layer reconstruction error than magnitude or wanda with the same per-row n', () => {
    fc.assert(
      fc.property(withN, ([L, n, bs]) => {
        const eObs = reconstructionError(L.W, run('obs', L, n, 0.001, bs), L);
        const eMag = reconstructionError(L.W, run('magnitude', L, n), L);
        const eWanda = reconstructionError(L.W, run('wanda', L, n), L);
        const slack = 1e-9 * (1 + eMag + eWanda);
        expect(eObs).toBeLessThanOrEqual(eMag + slack);
        expect(eObs).toBeLessThanOrEqual(eWanda + slack);
      }),
      params,
    );
  });

  it('with damp = 0 and full-rank H equals the sequential OBS written out with plain inverses', () => {
    // SparseGPT's sweep, derived directly: at column i the not-yet-final weights are
    // i..K-1 and their Hessian is H[i:, i:]; removing weight i updates them by
    // -(w_i / [H[i:,i:]⁻¹]_00) · H[i:,i:]⁻¹[0, :]. A group's mask is chosen at its first
    // column from the current weights, scoring w_j² / [H[j:,j:]⁻¹]_00.
    fc.assert(
      fc.property(withN, ([L, n, bs]) => {
        const got = L.W.slice();
        obsSweep(got, L.rows, n, prepareHessian(L.H, L.K, 0), bs);
        const { K } = L;
        const inv = Array.from({ length: K }, (_, i) => invert(sub(L.H, K, i)));
        for (let r = 0; r < L.rows; r++) {
          const w = Array.from(L.W.subarray(r * K, (r + 1) * K));
          let mask = 0;
          for (let i = 0; i < K; i++) {
            if (i % 4 === 0) {
              const s = [0, 1, 2, 3].map((j) => w[i + j] ** 2 / inv[i + j][0][0]);
              const order = [0, 1, 2, 3].sort((a, b) => s[a] - s[b] || a - b);
              mask = n[r] === 4 ? 15 : order.slice(0, n[r]).reduce((acc, j) => acc | (1 << j), 0);
            }
            if (!(mask & (1 << i % 4))) continue;
            const f = w[i] / inv[i][0][0];
            for (let j = i; j < K; j++) w[j] -= f * inv[i][0][j - i];
            w[i] = 0;
          }
          const scale = 1 + Math.max(...w.map(Math.abs));
          for (let j = 0; j < K; j++) expect(Math.abs(got[r * K + j] - w[j])).toBeLessThan(1e-7 * scale);
        }
      }),
      { ...params, numRuns: 40 },
    );
  });

  it('removing one weight at column 0 is the closed-form OBS update w - (w_0/[H⁻¹]_00)·H⁻¹[0,:]', () => {
    fc.assert(
      fc.property(fc.nat(), fc.integer({ min: 0, max: 8 }), (s, extra) => {
        // One group (K = 4): the only pruned weight is the one made smallest.
        const L = randomLayer(1, 1, 8 + extra, s);
        const K = L.K;
        const W = L.W.slice();
        W[0] = 1e-9;
        const n = Uint8Array.of(1);
        const got = W.slice();
        obsSweep(got, 1, n, prepareHessian(L.H, K, 0), 128);
        const Hinv = invert(sub(L.H, K, 0));
        const f = W[0] / Hinv[0][0];
        for (let j = 0; j < K; j++) expect(got[j]).toBeCloseTo(W[j] - f * Hinv[0][j], 9);
      }),
      params,
    );
  });

  it('measured damage (w-ŵ)H(w-ŵ)ᵀ equals the output error ‖(w-ŵ)X‖²', () => {
    fc.assert(
      fc.property(withN, ([L, n]) => {
        const What = run('obs', L, n);
        const d = sum(rowDamage(L.W, What, L.rows, L.K, L.H));
        const e = reconstructionError(L.W, What, L);
        expect(Math.abs(d - e)).toBeLessThanOrEqual(1e-8 * (1 + e));
      }),
      params,
    );
  });

  it('dead inputs (features always zero) keep the sweep finite and are pruned first', () => {
    const L0 = randomLayer(6, 3, 30, 7);
    const X = L0.X.slice();
    for (let t = 0; t < L0.T; t++) X[t * L0.K + 5] = 0;
    const H = new Float64Array(L0.K * L0.K);
    for (let i = 0; i < L0.K; i++) for (let j = 0; j < L0.K; j++) {
      let s = 0;
      for (let t = 0; t < L0.T; t++) s += X[t * L0.K + i] * X[t * L0.K + j];
      H[i * L0.K + j] = s;
    }
    for (const damp of [0, 0.001]) {
      const W = L0.W.slice();
      const hp = prepareHessian(H, L0.K, damp);
      expect(hp.dead[5]).toBe(1);
      obsSweep(W, L0.rows, uniformN(L0.rows, 1), hp);
      expect(W.every(Number.isFinite)).toBe(true);
      for (let r = 0; r < L0.rows; r++) expect(W[r * L0.K + 5]).toBe(0);
    }
  });
});
