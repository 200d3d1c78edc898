// Optimal-Brain-Surgeon pruning with compensation: SparseGPT's column sweep, per-row n.
//
// For a row w and Hessian H = XᵀX, removing weight i and updating the rest optimally
// costs w_i² / [H⁻¹]_ii, and the update is δ = -(w_i / [H⁻¹]_ii) · H⁻¹[i,:]. SparseGPT
// sweeps the columns left to right; after column i is decided, it is eliminated from
// the problem, which is what the rows of U (UᵀU = H⁻¹, U upper) encode: pruning column i
// subtracts err · U[i, i:] from the row with err = w_i / U_ii. Masks are chosen per group
// of 4 when the sweep reaches the group's first column, from the already-updated
// weights (score w_j² / U_jj²). Columns are processed in blocks of `blocksize`: updates
// inside a block are immediate, those to the right of it are applied once per block
// (a row × block × rest product), so U is streamed once per block rather than per column.
//
// Rows never interact (U is shared, every update is row-local), which is why the
// allocator can run uniform sweeps at n = 1, 2, 3 and pick, per row, the result it wants.
import { groupMask, GROUP, type RowN } from './masks.ts';
import { inverseCholeskyUpper } from './linalg.ts';

export interface PreparedHessian {
  readonly K: number;
  /** Upper Cholesky factor of the damped inverse Hessian (row-major K×K). */
  readonly U: Float64Array;
  /** Inputs that never fired on the calibration data (diag H = 0). */
  readonly dead: Uint8Array;
  /** The damping added to the diagonal (damp × mean diag of the live inputs). */
  readonly lambda: number;
}

/**
 * Damps H and factors its inverse. Dead inputs (H_jj = 0: the feature was exactly zero
 * on every calibration token) get H_jj = 1, as in SparseGPT, so H stays invertible;
 * their rows/columns of H are zero, so their weights neither affect the calibration
 * output nor receive or cause compensation, and their score is 0 (pruned first).
 * Damping is `damp · mean(diag H)` over the live inputs (1 when none is live), which
 * keeps the factorisation well defined for rank-deficient H (fewer tokens than inputs).
 */
export function prepareHessian(H: Float64Array, K: number, damp: number, what = 'H'): PreparedHessian {
  const Hd = H.slice();
  const dead = new Uint8Array(K);
  let sum = 0;
  let live = 0;
  for (let i = 0; i < K; i++) {
    const d = H[i * K + i];
    if (d > 0) {
      sum += d;
      live++;
    } else dead[i] = 1;
  }
  const mean = live ? sum / live : 1;
  const lambda = damp * mean;
  for (let i = 0; i < K; i++) {
    const ii = i * K + i;
    if (dead[i]) {
      // A dead feature's whole row and column of H is zero; make it an isolated 1.
      for (let j = 0; j < K; j++) {
        Hd[i * K + j] = 0;
        Hd[j * K + i] = 0;
      }
      Hd[ii] = 1;
    } else Hd[ii] += lambda;
  }
  return { K, U: inverseCholeskyUpper(Hd, K, what), dead, lambda };
}

/**
 * The SparseGPT sweep on a rows×K f64 matrix `W` (modified in place): row r prunes n[r]
 * of every group of 4 and compensates its kept weights. `blocksize` is rounded up to a
 * multiple of 4 (a group never straddles two blocks). Dead inputs score 0.
 */
export function obsSweep(W: Float64Array, rows: number, n: RowN, hp: PreparedHessian, blocksize = 128): void {
  const { K, U, dead } = hp;
  const B = Math.max(GROUP, Math.ceil(blocksize / GROUP) * GROUP);
  const err = new Float64Array(B);
  for (let r = 0; r < rows; r++) {
    const nr = n[r];
    if (nr === 0) continue;
    const o = r * K;
    for (let i1 = 0; i1 < K; i1 += B) {
      const i2 = Math.min(K, i1 + B);
      let any = false;
      let mask = 0;
      for (let i = i1; i < i2; i++) {
        const c = i - i1;
        if (c % GROUP === 0) {
          // Choose this group's mask from the weights as updated so far.
          mask = nr === 4 ? 15 : groupMask(nr, score(W, o, U, K, dead, i), score(W, o, U, K, dead, i + 1), score(W, o, U, K, dead, i + 2), score(W, o, U, K, dead, i + 3));
        }
        if (!(mask & (1 << (c % GROUP)))) {
          err[c] = 0;
          continue;
        }
        const ui = i * K;
        const e = W[o + i] / U[ui + i];
        err[c] = e;
        any = true;
        // Immediate update inside the block; W[o+i] becomes exactly 0 below.
        for (let j = i + 1; j < i2; j++) W[o + j] -= e * U[ui + j];
        W[o + i] = 0;
      }
      if (!any || i2 >= K) continue;
      // Lazy update of everything right of the block: W[r, i2:] -= err · U[i1:i2, i2:].
      for (let c = 0; c < i2 - i1; c++) {
        const e = err[c];
        if (e === 0) continue;
        const ui = (i1 + c) * K;
        for (let j = i2; j < K; j++) W[o + j] -= e * U[ui + j];
      }
    }
  }
}

function score(W: Float64Array, o: number, U: Float64Array, K: number, dead: Uint8Array, j: number): number {
  if (dead[j]) return 0;
  const d = U[j * K + j];
  const w = W[o + j];
  return (w * w) / (d * d);
}
