// Compensation toward the dense model's outputs. SparseGPT makes each layer reproduce
// its own dense output W·X_p on the inputs X_p of the already-pruned model, so the
// errors of earlier layers pass through unopposed. Aiming at the dense model's output
// W·X_d instead (X_d: the same tokens through the dense model) lets every layer also
// cancel, as far as its inputs allow, the error that reaches it:
//
//   ‖X_d Wᵀ − X_p Ŵᵀ‖² = ‖X_d Wᵀ − X_p W*ᵀ‖² + ‖X_p (W* − Ŵ)ᵀ‖²
//
// for W* the least-squares solution, so pruning toward the dense target is the ordinary
// OBS problem (Hessian H_p = X_pᵀX_p) applied to W* instead of W. With the same damping
// λ as the sweep, regularised toward W (so W* = W exactly when X_p = X_d):
//
//   W* = (W Cᵀ + λW)(H_p + λI)⁻¹,   C = X_pᵀ X_d.
import { SsmcError } from '../../errors.ts';
import { choleskyLower } from './linalg.ts';

/** C = AᵀB for row-major T×K token matrices A, B (K×K, f64). */
export function crossGram(A: ArrayLike<number>, B: ArrayLike<number>, K: number): Float64Array {
  const T = A.length / K;
  if (B.length !== A.length) throw new SsmcError('E_INTERNAL', `crossGram: ${A.length} vs ${B.length} values`);
  const C = new Float64Array(K * K);
  const b = new Float64Array(K);
  for (let t = 0; t < T; t++) {
    const o = t * K;
    for (let j = 0; j < K; j++) b[j] = B[o + j];
    for (let i = 0; i < K; i++) {
      const a = A[o + i];
      if (a === 0) continue;
      const ci = i * K;
      for (let j = 0; j < K; j++) C[ci + j] += a * b[j];
    }
  }
  return C;
}

/**
 * W* = (W Cᵀ + λW)(H_p + λI)⁻¹ for a rows×K W, with C = X_pᵀX_d, H_p = X_pᵀX_p and
 * λ = damp × mean(diag H_p) over the live inputs (at least 1e-6 × that mean). A new
 * array; W when every input is dead.
 */
export function refitToDense(W: Float64Array, rows: number, K: number, Hp: Float64Array, C: Float64Array, damp: number, what = 'W'): Float64Array {
  let sum = 0;
  let live = 0;
  for (let i = 0; i < K; i++) {
    if (Hp[i * K + i] > 0) {
      sum += Hp[i * K + i];
      live++;
    }
  }
  if (!live) return W.slice();
  const lambda = Math.max(damp, 1e-6) * (sum / live);
  const L = Hp.slice();
  for (let i = 0; i < K; i++) L[i * K + i] += lambda;
  if (!choleskyLower(L, K)) throw new SsmcError('E_PASS', `the damped Hessian of ${what} is not positive definite (raise damp)`);
  const out = new Float64Array(rows * K);
  const m = new Float64Array(K);
  for (let r = 0; r < rows; r++) {
    const o = r * K;
    // m = W_r Cᵀ + λ W_r
    for (let i = 0; i < K; i++) {
      const ci = i * K;
      let s = 0;
      for (let j = 0; j < K; j++) s += W[o + j] * C[ci + j];
      m[i] = s + lambda * W[o + i];
    }
    // (H_p + λI) x = m: L y = m, then Lᵀ x = y.
    for (let i = 0; i < K; i++) {
      const li = i * K;
      let s = m[i];
      for (let k = 0; k < i; k++) s -= L[li + k] * m[k];
      m[i] = s / L[li + i];
    }
    for (let i = K - 1; i >= 0; i--) {
      let s = m[i];
      for (let k = i + 1; k < K; k++) s -= L[k * K + i] * m[k];
      m[i] = s / L[i * K + i];
    }
    out.set(m, o);
  }
  return out;
}
