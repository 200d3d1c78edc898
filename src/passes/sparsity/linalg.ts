// Dense f64 linear algebra for the OBS sweep: symmetric rank-k updates of H = XᵀX,
// Cholesky, and the upper Cholesky factor of H⁻¹ that SparseGPT's column sweep reads.
// Matrices are row-major Float64Arrays (K×K); loops run along rows so every inner loop
// is a contiguous dot product or axpy (no per-element closures or allocations).
import { SsmcError } from '../../errors.ts';

/**
 * H += XᵀX for a block of `t` rows held *transposed*: `xt` is K×ldx, feature i's values
 * for the block's rows at xt[i*ldx .. i*ldx+t). Only the upper triangle (j >= i) is
 * updated; call `symmetrize` once at the end. Cost K²·t/2.
 */
export function syrkUpperT(H: Float64Array, K: number, xt: Float64Array, ldx: number, t: number): void {
  for (let i = 0; i < K; i++) {
    const oi = i * ldx;
    const hi = i * K;
    let j = i;
    // Four columns per pass: row i's values are loaded once for four dot products.
    for (; j + 4 <= K; j += 4) {
      const o0 = j * ldx, o1 = o0 + ldx, o2 = o1 + ldx, o3 = o2 + ldx;
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      for (let b = 0; b < t; b++) {
        const x = xt[oi + b];
        s0 += x * xt[o0 + b];
        s1 += x * xt[o1 + b];
        s2 += x * xt[o2 + b];
        s3 += x * xt[o3 + b];
      }
      H[hi + j] += s0;
      H[hi + j + 1] += s1;
      H[hi + j + 2] += s2;
      H[hi + j + 3] += s3;
    }
    for (; j < K; j++) {
      const oj = j * ldx;
      let s = 0;
      for (let b = 0; b < t; b++) s += xt[oi + b] * xt[oj + b];
      H[hi + j] += s;
    }
  }
}

/** Copies the upper triangle onto the lower one. */
export function symmetrize(H: Float64Array, K: number): void {
  for (let i = 0; i < K; i++) for (let j = i + 1; j < K; j++) H[j * K + i] = H[i * K + j];
}

/**
 * In-place lower Cholesky factor L (A = LLᵀ) of a symmetric positive definite A; the
 * strict upper triangle is zeroed. Returns false (A partly overwritten) when a pivot is
 * not positive, i.e. A is not numerically positive definite.
 * Row-oriented ("dot product") form: L[i][j] needs rows i and j over k < j, both
 * contiguous in row-major storage.
 */
export function choleskyLower(A: Float64Array, K: number): boolean {
  for (let j = 0; j < K; j++) {
    const rj = j * K;
    let d = A[rj + j];
    for (let k = 0; k < j; k++) d -= A[rj + k] * A[rj + k];
    if (!(d > 0)) return false;
    const ljj = Math.sqrt(d);
    A[rj + j] = ljj;
    const inv = 1 / ljj;
    for (let i = j + 1; i < K; i++) {
      const ri = i * K;
      let s = A[ri + j];
      for (let k = 0; k < j; k++) s -= A[ri + k] * A[rj + k];
      A[ri + j] = s * inv;
    }
  }
  for (let i = 0; i < K; i++) for (let j = i + 1; j < K; j++) A[i * K + j] = 0;
  return true;
}

/**
 * The upper-triangular U with UᵀU = H⁻¹ (what `torch.linalg.cholesky(H⁻¹, upper=True)`
 * gives in SparseGPT), without forming H⁻¹: with P the reversal permutation and
 * PHP = L̃L̃ᵀ, H = RRᵀ where R = PL̃P is upper triangular, so H⁻¹ = R⁻ᵀR⁻¹ and U = R⁻¹.
 * One Cholesky and one triangular inverse, both on well-conditioned (damped) H.
 * `H` is not modified. E_PASS when H is not positive definite (callers damp first).
 */
export function inverseCholeskyUpper(H: Float64Array, K: number, what = 'H'): Float64Array {
  // R[i][j] = L̃[K-1-i][K-1-j]; build PHP, factor it, then read R off reversed.
  const A = new Float64Array(K * K);
  for (let i = 0; i < K; i++) {
    const src = (K - 1 - i) * K;
    const dst = i * K;
    for (let j = 0; j < K; j++) A[dst + j] = H[src + K - 1 - j];
  }
  if (!choleskyLower(A, K)) {
    throw new SsmcError('E_PASS', `the damped Hessian of ${what} is not positive definite (raise damp)`);
  }
  const R = new Float64Array(K * K);
  for (let i = 0; i < K; i++) {
    const dst = i * K;
    const src = (K - 1 - i) * K;
    for (let j = i; j < K; j++) R[dst + j] = A[src + K - 1 - j];
  }
  // U = R⁻¹, upper. Row i from the rows below it: U[i,:] = (e_i - Σ_{k>i} R[i,k] U[k,:]) / R[i,i]
  // (an axpy of already finished rows, contiguous).
  const U = new Float64Array(K * K);
  for (let i = K - 1; i >= 0; i--) {
    const ri = i * K;
    const inv = 1 / R[ri + i];
    U[ri + i] = 1;
    for (let k = i + 1; k < K; k++) {
      const r = R[ri + k];
      if (r === 0) continue;
      const rk = k * K;
      for (let j = k; j < K; j++) U[ri + j] -= r * U[rk + j];
    }
    for (let j = i; j < K; j++) U[ri + j] *= inv;
  }
  return U;
}

/** vᵀHv for a symmetric H (full storage). */
export function quadForm(H: Float64Array, K: number, v: Float64Array, off = 0): number {
  let total = 0;
  for (let i = 0; i < K; i++) {
    const vi = v[off + i];
    if (vi === 0) continue;
    const hi = i * K;
    let s = 0;
    for (let j = 0; j < K; j++) s += H[hi + j] * v[off + j];
    total += vi * s;
  }
  return total;
}
