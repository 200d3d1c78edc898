// Decode cost of a C_n^4 row, for latency-targeted allocation. Decode is memory-bound
// (DESIGN §6), so the default model is bytes read per token in the packed format
// (DESIGN §5): f32 kept values plus a 4-bit code per group (n = 1 and 3 need only 2
// bits; the model charges 4); a row with n = 0 is stored dense (no code), n = 4 is not
// stored at all. A target can override it through the `costModel` service (e.g.
// measured kernel timings); only relative costs matter, since the latency budget is a
// fraction of the dense cost.
import { GROUP } from './masks.ts';

export interface CostModel {
  /** Cost (any unit) of one row with `inFeatures` inputs pruned at n, in matrix `weight`. */
  rowCost(n: number, inFeatures: number, weight: string): number;
}

export const packedBytesCostModel: CostModel = {
  rowCost(n, K) {
    if (n <= 0) return 4 * K;
    if (n >= GROUP) return 0;
    const groups = K / GROUP;
    return groups * ((GROUP - n) * 4 + 0.5);
  },
};

/** Gains (cost saved relative to n = 0) for n = 0..4. */
export function costGains(model: CostModel, K: number, weight: string): number[] {
  const c0 = model.rowCost(0, K, weight);
  return [0, 1, 2, 3, 4].map((n) => c0 - model.rowCost(n, K, weight));
}

/** Gains in removed weights for n = 0..4. */
export function sparsityGains(K: number): number[] {
  return [0, 1, 2, 3, 4].map((n) => (n * K) / GROUP);
}
