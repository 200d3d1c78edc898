// The heavy numerics of sparsify-cn4 behind one interface, so that the pass runs the
// same algorithm on the JS reference (this file) or the native helper (src/native/
// kernels.ts: the same definitions batched into GEMMs). Results agree up to
// floating-point reassociation (test/native/).
import type { LayerStats } from '../analysis/calibration.ts';
import { statsOf } from '../analysis/calibration.ts';
import { rowDamage, rowEnergy, sum, uncompensatedDamage } from './damage.ts';
import type { RowN } from './masks.ts';
import { matrixPruner, measureTable, type MeasuredTable, type Method, type Pruned, type PrunerOptions } from './prune.ts';
import { crossGram, refitToDense } from './refit.ts';

export interface LayerError {
  readonly before: number;
  readonly after: number;
  readonly energy: number;
}

export interface SparsityKernels {
  readonly name: 'js' | 'native';
  /** prune.ts measureTable(matrixPruner(method, …)). */
  table(method: Method, W0: Float64Array, rows: number, K: number, stats: LayerStats, o: PrunerOptions): MeasuredTable;
  /** matrixPruner(method, …).prune(n). */
  prune(method: Method, W0: Float64Array, rows: number, K: number, n: RowN, stats: LayerStats | undefined, o: PrunerOptions): Pruned;
  /** Σ uncompensated, Σ compensated damage and Σ row energy (the sparsity report). */
  layerError(W0: Float64Array, W: Float64Array, rows: number, K: number, H: Float64Array): LayerError;
  /** statsOf(Xp) and crossGram(Xp, Xd) for T×K token rows. */
  cross(Xp: Float32Array, Xd: Float32Array, K: number): { stats: LayerStats; C: Float64Array };
  /** refit.ts refitToDense. */
  refit(W: Float64Array, rows: number, K: number, Hp: Float64Array, C: Float64Array, damp: number, what: string): Float64Array;
  /** Releases files or processes (no-op for JS). */
  close(): void;
}

export const jsKernels: SparsityKernels = {
  name: 'js',
  table: (method, W0, rows, K, stats, o) => measureTable(matrixPruner(method, W0, rows, K, stats, o), W0, rows, K, stats.H),
  prune: (method, W0, rows, K, n, stats, o) => matrixPruner(method, W0, rows, K, stats, o).prune(n),
  layerError: (W0, W, rows, K, H) => ({
    before: sum(uncompensatedDamage(W0, W, rows, K, H)),
    after: sum(rowDamage(W0, W, rows, K, H)),
    energy: sum(rowEnergy(W0, rows, K, H)),
  }),
  cross: (Xp, Xd, K) => ({ stats: statsOf(Xp, K), C: crossGram(Xp, Xd, K) }),
  refit: (W, rows, K, Hp, C, damp, what) => refitToDense(W, rows, K, Hp, C, damp, what),
  close() {},
};
