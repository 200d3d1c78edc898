// The native helper against the JS reference on random layers: damage tables (OBS
// sweeps at n = 1..3 with the best-row choice, measured damages, row energies), a
// per-row-n prune, the report's errors, H and XpᵀXd, the refit. Same definitions, so
// the results must agree up to rounding (the native side batches rows into GEMMs and
// takes OBS damages from the sweep's own errors).
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { nativeAvailable } from '../../src/native/build.ts';
import { NativeKernels } from '../../src/native/kernels.ts';
import { jsKernels } from '../../src/passes/sparsity/kernels.ts';
import { lcg } from '../helpers/random-model.ts';
import { arbLayer, randomLayer, type RandomLayer } from '../passes/sparsify/helpers.ts';

const seed = Number(process.env.FC_SEED ?? 42);
const params = { seed, numRuns: 15 };
const available = nativeAvailable();
const native = available ? new NativeKernels() : undefined;
afterAll(() => native?.close());

const opts = (blocksize: number) => ({ damp: 0.001, blocksize, what: 'W' });
const statsOfLayer = (L: RandomLayer) => ({ K: L.K, H: L.H, norms: L.norms, rows: L.T });

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

function expectClose(a: ArrayLike<number>, b: ArrayLike<number>, rel: number): void {
  expect(a.length).toBe(b.length);
  const tol = rel * Math.max(1e-30, maxAbs(a), maxAbs(b));
  for (let i = 0; i < a.length; i++) if (Math.abs(a[i] - b[i]) > tol) expect.fail(`index ${i}: ${a[i]} vs ${b[i]} (tolerance ${tol})`);
}

/** A layer where some inputs never fire (dead features: zero rows/columns of H). */
function withDeadInputs(L: RandomLayer, s: number): RandomLayer {
  const rnd = lcg(s);
  const dead = Array.from({ length: L.K }, () => rnd() < 0.2);
  const X = L.X.map((v, i) => (dead[i % L.K] ? 0 : v));
  const H = new Float64Array(L.K * L.K);
  for (let t = 0; t < L.T; t++) for (let i = 0; i < L.K; i++) for (let j = 0; j < L.K; j++) H[i * L.K + j] += X[t * L.K + i] * X[t * L.K + j];
  return { ...L, X, H, norms: Float64Array.from({ length: L.K }, (_, j) => Math.sqrt(H[j * L.K + j])) };
}

const arbCase = arbLayer.chain((L) => fc.tuple(fc.constant(L), fc.constantFrom(4, 8, 128), fc.boolean(), fc.nat()));

describe('native kernels equal the JS reference', () => {
  it('has the C compiler the setup script installs (the native engine is the default with one)', () => {
    expect(available).toBe(true);
  });

  it('damage tables and the uniform results at n = 1, 2, 3 (with dead inputs and rank-deficient H)', () => {
    fc.assert(
      fc.property(arbCase, ([L0, bs, dead, s]) => {
        const L = dead ? withDeadInputs(L0, s) : L0;
        const js = jsKernels.table('obs', L.W, L.rows, L.K, statsOfLayer(L), opts(bs));
        const nat = native!.table('obs', L.W, L.rows, L.K, statsOfLayer(L), opts(bs));
        expectClose(nat.table, js.table, 1e-9);
        for (let n = 1; n <= 3; n++) expectClose(nat.results[n]!, js.results[n]!, 1e-9);
      }),
      params,
    );
  });

  it('a per-row-n prune, its damages and the report errors', () => {
    fc.assert(
      fc.property(arbCase, fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 12, maxLength: 12 }), ([L, bs], ns) => {
        const n = Uint8Array.from({ length: L.rows }, (_, r) => ns[r % ns.length]);
        const js = jsKernels.prune('obs', L.W, L.rows, L.K, n, statsOfLayer(L), opts(bs));
        const nat = native!.prune('obs', L.W, L.rows, L.K, n, statsOfLayer(L), opts(bs));
        expectClose(nat.W, js.W, 1e-9);
        expectClose(nat.damage!, js.damage!, 1e-9);
        const ej = jsKernels.layerError(L.W, js.W, L.rows, L.K, L.H);
        const en = native!.layerError(L.W, js.W, L.rows, L.K, L.H);
        expectClose([en.before, en.after, en.energy], [ej.before, ej.after, ej.energy], 1e-9);
      }),
      params,
    );
  });

  it('H, XpᵀXd and the refit toward the dense outputs', () => {
    fc.assert(
      fc.property(arbLayer, fc.nat(), (L, s) => {
        const rnd = lcg(s);
        const Xd = Float32Array.from(L.X);
        const Xp = Xd.map((v) => v * (0.8 + 0.4 * rnd()) + 0.1 * (rnd() - 0.5));
        const js = jsKernels.cross(Xp, Xd, L.K);
        const nat = native!.cross(Xp, Xd, L.K);
        expectClose(nat.stats.H, js.stats.H, 1e-12);
        expectClose(nat.stats.norms, js.stats.norms, 1e-12);
        expectClose(nat.C, js.C, 1e-12);
        expect(nat.stats.rows).toBe(js.stats.rows);
        const Wj = jsKernels.refit(L.W, L.rows, L.K, js.stats.H, js.C, 0.001, 'W');
        const Wn = native!.refit(L.W, L.rows, L.K, js.stats.H, js.C, 0.001, 'W');
        expectClose(Wn, Wj, 1e-8);
      }),
      params,
    );
  });

  it('a layer large enough for every blocked path (several GEMM and factor blocks, two threads)', () => {
    const L = randomLayer(96, 64, 300, 7);
    const js = jsKernels.table('obs', L.W, L.rows, L.K, statsOfLayer(L), opts(128));
    const nat = native!.table('obs', L.W, L.rows, L.K, statsOfLayer(L), opts(128));
    expectClose(nat.table, js.table, 1e-9);
    for (let n = 1; n <= 3; n++) expectClose(nat.results[n]!, js.results[n]!, 1e-9);
  });
});
