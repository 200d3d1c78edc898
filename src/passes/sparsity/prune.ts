// One matrix, one method: prune a rows×K f64 matrix to per-row n, and measure the
// damage table the allocator needs (actual results at n = 1, 2, 3; wᵀHw at n = 4).
import type { LayerStats } from '../analysis/calibration.ts';
import { rowDamage, rowEnergy, type DamageTable } from './damage.ts';
import { pruneByScore, uniformN, type RowN } from './masks.ts';
import { obsSweep, prepareHessian, type PreparedHessian } from './obs.ts';

export type Method = 'magnitude' | 'wanda' | 'obs';

export interface Pruned {
  readonly W: Float64Array;
  /** Per-row (w - ŵ)H(w - ŵ)ᵀ with the undamped H, when already known. */
  readonly damage?: Float64Array;
}

export interface MatrixPruner {
  /** A pruned copy of `W0` (never modifies it). */
  prune(n: RowN): Pruned;
}

export interface PrunerOptions {
  readonly damp: number;
  readonly blocksize: number;
  /** For messages. */
  readonly what: string;
}

export function matrixPruner(method: Method, W0: Float64Array, rows: number, K: number, stats: LayerStats | undefined, o: PrunerOptions): MatrixPruner {
  let hp: PreparedHessian | undefined;
  return {
    prune(n) {
      const W = W0.slice();
      if (method === 'magnitude') pruneByScore(W, rows, K, n);
      else if (method === 'wanda') pruneByScore(W, rows, K, n, stats!.norms);
      else {
        hp ??= prepareHessian(stats!.H, K, o.damp, o.what);
        obsSweep(W, rows, n, hp, o.blocksize);
        return keepBestRows(W0, W, rows, K, n, stats!);
      }
      return { W };
    },
  };
}

/**
 * SparseGPT chooses each group's mask greedily from per-weight saliencies, which on
 * rare rows (small groups of strongly correlated inputs, large n) picks a worse mask
 * than plain magnitude or Wanda would. Each row therefore keeps, by its measured error
 * (w - ŵ)H(w - ŵ)ᵀ on the undamped H, the best of: the OBS sweep, magnitude, Wanda, so
 * obs is never worse than either with the same n (rows are independent, so mixing rows
 * is valid).
 */
function keepBestRows(W0: Float64Array, Wobs: Float64Array, rows: number, K: number, n: RowN, stats: LayerStats): Pruned {
  const damage = rowDamage(W0, Wobs, rows, K, stats.H);
  for (const scale of [undefined, stats.norms]) {
    const Wp = W0.slice();
    pruneByScore(Wp, rows, K, n, scale);
    const d = rowDamage(W0, Wp, rows, K, stats.H);
    for (let r = 0; r < rows; r++) {
      if (d[r] < damage[r]) {
        damage[r] = d[r];
        Wobs.set(Wp.subarray(r * K, (r + 1) * K), r * K);
      }
    }
  }
  return { W: Wobs, damage };
}

export interface MeasuredTable {
  /** rows×5 damages, unscaled. */
  readonly table: DamageTable;
  /** The uniform results at n = 1, 2, 3 (index n). Rows are independent, so a per-row n is a row-wise pick. */
  readonly results: readonly (Float64Array | undefined)[];
}

export function measureTable(pruner: MatrixPruner, W0: Float64Array, rows: number, K: number, H: Float64Array): MeasuredTable {
  const table = new Float64Array(rows * 5);
  const results: (Float64Array | undefined)[] = [undefined];
  for (let n = 1; n <= 3; n++) {
    const p = pruner.prune(uniformN(rows, n));
    results.push(p.W);
    const d = p.damage ?? rowDamage(W0, p.W, rows, K, H);
    for (let r = 0; r < rows; r++) table[r * 5 + n] = d[r];
  }
  const e = rowEnergy(W0, rows, K, H);
  for (let r = 0; r < rows; r++) table[r * 5 + 4] = e[r];
  return { table, results };
}

/** Assembles a per-row-n matrix from uniform results (n = 0: W0, n = 4: zeros). */
export function assemble(W0: Float64Array, results: readonly (Float64Array | Float32Array | undefined)[], rows: number, K: number, n: RowN): Float64Array {
  const W = new Float64Array(rows * K);
  for (let r = 0; r < rows; r++) {
    const nr = n[r];
    if (nr === 4) continue;
    const src = nr === 0 ? W0 : results[nr]!;
    W.set(src.subarray(r * K, (r + 1) * K), r * K);
  }
  return W;
}
