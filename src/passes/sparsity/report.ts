// Per-layer sparsity statistics, the content of `sparsity.json`. The pass hands its full
// report (with reconstruction errors) to the `sparsityReport` service callback when the
// caller provides one; `sparsityReport(graph)` recomputes the structural part (rows, n
// histogram, achieved sparsity) from any annotated graph.
import type { Graph } from '../../ir/graph.ts';
import { numel } from '../../ir/types.ts';
import { GROUP } from './masks.ts';

export interface LayerReport {
  readonly weight: string;
  readonly kind: string;
  readonly rows: number;
  readonly cols: number;
  /** Rows with n = 0..4. */
  readonly nHistogram: readonly number[];
  /** Fraction of the matrix's weights pruned by its C_n^4 pattern. */
  readonly sparsity: number;
  /**
   * Calibration reconstruction errors Σ_rows ‖(w - ŵ)X‖²: with the final mask but no
   * compensation (`before`) and as stored (`after`); `energy` is Σ ‖wX‖² of the dense
   * weights, for relative figures. Absent without calibration data.
   */
  readonly error?: { readonly before: number; readonly after: number; readonly energy: number };
  /** Calibration-loss rise (nats/token; KL to dense with `sens=kl`) when this matrix alone is pruned 2:4 (adaptive only). */
  readonly sensitivity?: number;
}

export interface SparsityReport {
  readonly method: string;
  readonly pattern: string;
  /** What was asked: `n=2`, `sparsity=0.5`, `latency=0.6`. */
  readonly target: string;
  /** Pruned fraction over the selected layers. */
  readonly sparsity: number;
  /** Estimated decode cost of the selected layers relative to dense (packed-bytes model unless a cost model was given). */
  readonly relativeCost?: number;
  /** Calibration loss (nats/token) of the dense model and of the result, when measured. */
  readonly calibrationLoss?: { readonly dense: number; readonly pruned: number };
  readonly layers: readonly LayerReport[];
}

/** Service name for the report callback: `(report: SparsityReport) => void`. */
export const SPARSITY_REPORT_SERVICE = 'sparsityReport';

export function histogram(n: ArrayLike<number>): number[] {
  const h = [0, 0, 0, 0, 0];
  for (let i = 0; i < n.length; i++) h[n[i]]++;
  return h;
}

export function rowsSparsity(n: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < n.length; i++) s += n[i];
  return n.length ? s / (GROUP * n.length) : 0;
}

/** The structural report of every cn4-annotated weight of a graph. */
export function sparsityReport(graph: Graph): Pick<SparsityReport, 'sparsity' | 'layers'> {
  const layers: LayerReport[] = [];
  let removed = 0;
  let total = 0;
  for (const w of graph.weights) {
    const n = w.type.cn4;
    if (!n) continue;
    const [rows, cols] = w.type.shape;
    const sp = rowsSparsity(n);
    removed += sp * numel(w.type.shape);
    total += numel(w.type.shape);
    layers.push({ weight: w.name, kind: w.name.replace(/^l\d+\./, ''), rows, cols, nHistogram: histogram(n), sparsity: sp });
  }
  return { sparsity: total ? removed / total : 0, layers };
}
