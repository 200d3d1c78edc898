// The sparse-learning allocator: choose n ∈ 0..4 for every row of every matrix so that
// the total gain (weights removed, or decode cost saved) reaches a target with the least
// total (sensitivity-scaled) damage.
//
// This is a multiple-choice knapsack. Its Lagrangian relaxation is solved exactly by a
// greedy walk over each row's lower convex hull of (gain, damage) points: steps sorted
// by marginal damage per unit gain, taken cheapest first until the target is reached
// (every λ of the Lagrangian picks a prefix of that order). Hull steps may jump several
// n at once, so the last step can overshoot; when it overshoots by more than `tol` it is
// undone and the remainder filled with single n → n+1 moves, cheapest per unit gain,
// preferring moves that do not overshoot.
import { SsmcError } from '../../errors.ts';
import type { RowN } from './masks.ts';

export interface AllocMatrix {
  readonly rows: number;
  /** rows×5 damages (already scaled by the matrix's sensitivity), [r*5 + n]. */
  readonly damage: Float64Array;
  /** Gain of a row at n = 0..4 relative to n = 0 (gain[0] = 0), nondecreasing. */
  readonly gain: readonly number[];
}

export interface Allocation {
  readonly n: RowN[];
  /** Total gain reached. */
  readonly gain: number;
  /** Total scaled damage of the choice. */
  readonly damage: number;
}

/**
 * Reaches `target` total gain (within `tol` above or below when the granularity allows;
 * never below target - tol unless every row is at n = 4) at minimum summed damage.
 */
export function allocate(mats: readonly AllocMatrix[], target: number, tol = 0): Allocation {
  for (const m of mats) {
    if (m.gain.length !== 5 || m.gain[0] !== 0) throw new SsmcError('E_INTERNAL', 'allocator: gain needs 5 entries starting at 0');
    for (let k = 1; k < 5; k++) if (!(m.gain[k] >= m.gain[k - 1])) throw new SsmcError('E_INTERNAL', 'allocator: gain must not decrease with n');
  }
  const n = mats.map((m) => new Uint8Array(m.rows));
  let totalRows = 0;
  for (const m of mats) totalRows += m.rows;
  if (target <= 0) return { n, gain: 0, damage: 0 };

  // Hull steps of every row, as parallel typed arrays (at most 4 per row).
  const cap = totalRows * 4;
  const slope = new Float64Array(cap);
  const sMat = new Int32Array(cap);
  const sRow = new Int32Array(cap);
  const sTo = new Uint8Array(cap);
  let ns = 0;
  const hull = new Int32Array(5);
  mats.forEach((m, mi) => {
    const g = m.gain;
    for (let r = 0; r < m.rows; r++) {
      const d = m.damage.subarray(r * 5, r * 5 + 5);
      let h = 0;
      hull[h++] = 0;
      for (let k = 1; k < 5; k++) {
        if (g[k] === g[hull[h - 1]]) {
          // Same gain: keep the cheaper point.
          if (d[k] < d[hull[h - 1]] && h > 1) h--;
          else continue;
        }
        while (h >= 2) {
          const a = hull[h - 2], b = hull[h - 1];
          // Pop b when it lies on or above the segment a -> k.
          if ((d[b] - d[a]) * (g[k] - g[a]) >= (d[k] - d[a]) * (g[b] - g[a])) h--;
          else break;
        }
        hull[h++] = k;
      }
      for (let s = 1; s < h; s++) {
        const a = hull[s - 1], b = hull[s];
        slope[ns] = (d[b] - d[a]) / (g[b] - g[a]);
        sMat[ns] = mi;
        sRow[ns] = r;
        sTo[ns] = b;
        ns++;
      }
    }
  });
  const order = new Uint32Array(ns);
  for (let i = 0; i < ns; i++) order[i] = i;
  // Ties keep creation order, so a row's own steps stay in hull order.
  order.sort((i, j) => slope[i] - slope[j] || i - j);

  let gain = 0;
  let last = -1;
  for (let t = 0; t < ns && gain < target; t++) {
    const s = order[t];
    const m = mats[sMat[s]];
    const row = sRow[s];
    gain += m.gain[sTo[s]] - m.gain[n[sMat[s]][row]];
    n[sMat[s]][row] = sTo[s];
    last = s;
  }
  if (gain - target > tol && last >= 0) {
    // Undo the overshooting step, then fill with single steps.
    const mi = sMat[last];
    const row = sRow[last];
    const m = mats[mi];
    let from = 0;
    // The previous hull point of this row: the largest hull target below sTo[last].
    for (let s = last - 1; s >= 0 && sMat[s] === mi && sRow[s] === row; s--) {
      from = sTo[s];
      break;
    }
    gain -= m.gain[n[mi][row]] - m.gain[from];
    n[mi][row] = from;
    fillSingleSteps(mats, n, target, tol, gain);
    gain = totalGain(mats, n);
  }
  return { n, gain, damage: totalDamage(mats, n) };
}

function fillSingleSteps(mats: readonly AllocMatrix[], n: RowN[], target: number, tol: number, gain: number): void {
  while (gain < target - tol) {
    const need = target - gain;
    let best = -1, bestRow = -1, bestCost = Infinity, bestFits = false;
    for (let mi = 0; mi < mats.length; mi++) {
      const m = mats[mi];
      const nn = n[mi];
      for (let r = 0; r < m.rows; r++) {
        const k = nn[r];
        if (k >= 4) continue;
        const dg = m.gain[k + 1] - m.gain[k];
        if (dg <= 0) continue;
        const fits = dg <= need + tol;
        // Among moves that fit: the cheapest per unit gain; otherwise the smallest overshoot.
        const cost = fits ? (m.damage[r * 5 + k + 1] - m.damage[r * 5 + k]) / dg : dg;
        if ((fits && !bestFits) || (fits === bestFits && cost < bestCost)) {
          best = mi;
          bestRow = r;
          bestCost = cost;
          bestFits = fits;
        }
      }
    }
    if (best < 0) return;
    const m = mats[best];
    const k = n[best][bestRow];
    const dg = m.gain[k + 1] - m.gain[k];
    // Nothing fits: take the move only if it ends closer to the target than stopping.
    if (!bestFits && gain + dg - target > target - gain) return;
    gain += dg;
    n[best][bestRow] = k + 1;
  }
}

export function totalGain(mats: readonly AllocMatrix[], n: readonly RowN[]): number {
  let g = 0;
  mats.forEach((m, mi) => {
    for (let r = 0; r < m.rows; r++) g += m.gain[n[mi][r]];
  });
  return g;
}

export function totalDamage(mats: readonly AllocMatrix[], n: readonly RowN[]): number {
  let d = 0;
  mats.forEach((m, mi) => {
    for (let r = 0; r < m.rows; r++) d += m.damage[r * 5 + n[mi][r]];
  });
  return d;
}
