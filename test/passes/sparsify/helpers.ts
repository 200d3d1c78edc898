// Shared pieces of the sparsify tests: random layers with correlated inputs, and plain
// (deliberately naive, independent of src/) linear algebra to check the sweep against.
import fc from 'fast-check';
import { lcg } from '../../helpers/random-model.ts';

export interface RandomLayer {
  readonly rows: number;
  readonly K: number;
  readonly W: Float64Array;
  /** T×K inputs, correlated features (X = Z·A + noise). */
  readonly X: Float64Array;
  readonly T: number;
  readonly H: Float64Array;
  readonly norms: Float64Array;
}

export function randomLayer(rows: number, groups: number, T: number, seed: number): RandomLayer {
  const K = groups * 4;
  const rnd = lcg(seed);
  const normal = () => {
    const u = Math.max(rnd(), 1e-12);
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rnd());
  };
  const W = Float64Array.from({ length: rows * K }, normal);
  const latent = Math.max(1, Math.ceil(K / 2));
  const A = Float64Array.from({ length: latent * K }, normal);
  const scale = Float64Array.from({ length: K }, () => 0.2 + 2 * rnd());
  const X = new Float64Array(T * K);
  for (let t = 0; t < T; t++) {
    const z = Float64Array.from({ length: latent }, normal);
    for (let j = 0; j < K; j++) {
      let s = 0.3 * normal();
      for (let l = 0; l < latent; l++) s += z[l] * A[l * K + j];
      X[t * K + j] = s * scale[j];
    }
  }
  const H = gram(X, T, K);
  const norms = Float64Array.from({ length: K }, (_, j) => Math.sqrt(H[j * K + j]));
  return { rows, K, W, X, T, H, norms };
}

export const arbLayer = fc
  .record({ rows: fc.integer({ min: 1, max: 12 }), groups: fc.integer({ min: 1, max: 6 }), extra: fc.integer({ min: 0, max: 40 }), seed: fc.nat() })
  .map(({ rows, groups, extra, seed }) => randomLayer(rows, groups, groups * 4 + 4 + extra, seed));

export function gram(X: Float64Array, T: number, K: number): Float64Array {
  const H = new Float64Array(K * K);
  for (let i = 0; i < K; i++) for (let j = 0; j < K; j++) {
    let s = 0;
    for (let t = 0; t < T; t++) s += X[t * K + i] * X[t * K + j];
    H[i * K + j] = s;
  }
  return H;
}

/** ‖(W - Ŵ) Xᵀ‖²_F computed directly from X (not through H). */
export function reconstructionError(W: Float64Array, What: Float64Array, L: RandomLayer): number {
  let e = 0;
  for (let r = 0; r < L.rows; r++) for (let t = 0; t < L.T; t++) {
    let s = 0;
    for (let j = 0; j < L.K; j++) s += (W[r * L.K + j] - What[r * L.K + j]) * L.X[t * L.K + j];
    e += s * s;
  }
  return e;
}

/** Gauss-Jordan inverse with partial pivoting, on plain nested arrays. */
export function invert(M: number[][]): number[][] {
  const n = M.length;
  const a = M.map((row, i) => [...row, ...Array.from({ length: n }, (_, j) => (i === j ? 1 : 0))]);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(a[r][c]) > Math.abs(a[p][c])) p = r;
    [a[c], a[p]] = [a[p], a[c]];
    const d = a[c][c];
    for (let j = 0; j < 2 * n; j++) a[c][j] /= d;
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = a[r][c];
      for (let j = 0; j < 2 * n; j++) a[r][j] -= f * a[c][j];
    }
  }
  return a.map((row) => row.slice(n));
}

export function sub(H: Float64Array, K: number, from: number): number[][] {
  const out: number[][] = [];
  for (let i = from; i < K; i++) out.push(Array.from({ length: K - from }, (_, j) => H[i * K + from + j]));
  return out;
}

export function zerosPerGroup(W: ArrayLike<number>, r: number, g: number, K: number): number {
  let z = 0;
  for (let j = 0; j < 4; j++) if (W[r * K + g * 4 + j] === 0) z++;
  return z;
}
