// Measured damage: the real calibration output error of a pruned row,
// ‖(w - ŵ) X‖² = (w - ŵ) H (w - ŵ)ᵀ with the undamped H = XᵀX. For the allocator a
// matrix gets a rows×5 table: n = 0 costs nothing, n = 1..3 are measured from actual
// sweeps (OBS: compensation included), n = 4 is wᵀHw (a removed row cannot be
// compensated). Diagonal saliency estimates are not used: they underrate n = 4.
import { quadForm } from './linalg.ts';

/** Per-row (a - b) H (a - b)ᵀ for rows×K matrices a, b. */
export function rowDamage(a: ArrayLike<number>, b: ArrayLike<number>, rows: number, K: number, H: Float64Array): Float64Array {
  const out = new Float64Array(rows);
  const d = new Float64Array(K);
  for (let r = 0; r < rows; r++) {
    const o = r * K;
    let nz = false;
    for (let j = 0; j < K; j++) {
      d[j] = a[o + j] - b[o + j];
      if (d[j] !== 0) nz = true;
    }
    out[r] = nz ? Math.max(0, quadForm(H, K, d)) : 0;
  }
  return out;
}

/** Per-row wHwᵀ: the damage of removing the whole row (n = 4). */
export function rowEnergy(w: ArrayLike<number>, rows: number, K: number, H: Float64Array): Float64Array {
  return rowDamage(w, new Float64Array(rows * K), rows, K, H);
}

/**
 * The error of the same mask without compensation: the pruned positions (zero in
 * `pruned`, nonzero in `orig`) removed from `orig`, nothing else changed.
 */
export function uncompensatedDamage(orig: ArrayLike<number>, pruned: ArrayLike<number>, rows: number, K: number, H: Float64Array): Float64Array {
  const masked = new Float64Array(rows * K);
  for (let i = 0; i < rows * K; i++) masked[i] = pruned[i] === 0 ? 0 : orig[i];
  return rowDamage(orig, masked, rows, K, H);
}

/** A damage table: rows×5, entry [r*5+n] = damage of row r at n. */
export type DamageTable = Float64Array;

export function sum(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i];
  return s;
}
