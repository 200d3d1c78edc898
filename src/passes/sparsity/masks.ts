// C_n^4 masks: groups of 4 contiguous weights along the input dimension; row r prunes
// the same n[r] weights in each of its groups. Masks are chosen per group by a score
// (smaller = pruned first); ties go to the lower index so results are deterministic.
import { SsmcError } from '../../errors.ts';

export const GROUP = 4;

/** Per-row n: one entry per row, 0..4. */
export type RowN = Uint8Array;

export function uniformN(rows: number, n: number): RowN {
  return new Uint8Array(rows).fill(n);
}

/**
 * Bit j (0..3) set = weight j of the group is pruned: the n lowest of the four scores
 * s0..s3. A rank count (no sort, no allocation): weight j is pruned when fewer than n
 * weights rank below it.
 */
export function groupMask(n: number, s0: number, s1: number, s2: number, s3: number): number {
  if (n <= 0) return 0;
  if (n >= 4) return 15;
  const r0 = (s1 < s0 ? 1 : 0) + (s2 < s0 ? 1 : 0) + (s3 < s0 ? 1 : 0);
  const r1 = (s0 <= s1 ? 1 : 0) + (s2 < s1 ? 1 : 0) + (s3 < s1 ? 1 : 0);
  const r2 = (s0 <= s2 ? 1 : 0) + (s1 <= s2 ? 1 : 0) + (s3 < s2 ? 1 : 0);
  const r3 = (s0 <= s3 ? 1 : 0) + (s1 <= s3 ? 1 : 0) + (s2 <= s3 ? 1 : 0);
  return (r0 < n ? 1 : 0) | (r1 < n ? 2 : 0) | (r2 < n ? 4 : 0) | (r3 < n ? 8 : 0);
}

/**
 * Prunes without compensation (magnitude: score |w|; Wanda: |w|·‖x_j‖). `W` (rows×K,
 * f64) is modified in place; `colScale` is the per-input factor (undefined = magnitude).
 */
export function pruneByScore(W: Float64Array, rows: number, K: number, n: RowN, colScale?: Float64Array): void {
  for (let r = 0; r < rows; r++) {
    const nr = n[r];
    if (nr === 0) continue;
    const o = r * K;
    if (nr === 4) {
      W.fill(0, o, o + K);
      continue;
    }
    for (let g = 0; g < K; g += GROUP) {
      const a = o + g;
      let s0 = Math.abs(W[a]), s1 = Math.abs(W[a + 1]), s2 = Math.abs(W[a + 2]), s3 = Math.abs(W[a + 3]);
      if (colScale) {
        s0 *= colScale[g];
        s1 *= colScale[g + 1];
        s2 *= colScale[g + 2];
        s3 *= colScale[g + 3];
      }
      const m = groupMask(nr, s0, s1, s2, s3);
      if (m & 1) W[a] = 0;
      if (m & 2) W[a + 1] = 0;
      if (m & 4) W[a + 2] = 0;
      if (m & 8) W[a + 3] = 0;
    }
  }
}

/** E_PASS unless the input width is a whole number of groups (no silent skipping). */
export function checkGroupWidth(K: number, what: string): void {
  if (K % GROUP !== 0) {
    throw new SsmcError(
      'E_PASS',
      `${what} has ${K} input features, not a multiple of ${GROUP}: C_n^4 groups would not tile its rows; leave it out with layers=... (it is never pruned silently)`,
    );
  }
}

/**
 * Checks that every group of row r has at least n[r] exact zeros (exactly n[r] when
 * `exact`) and that every value is finite. Returns the first problem, or undefined.
 */
export function cn4Violation(W: ArrayLike<number>, rows: number, K: number, n: ArrayLike<number>, exact = false): string | undefined {
  for (let r = 0; r < rows; r++) {
    const o = r * K;
    for (let g = 0; g < K; g += GROUP) {
      let z = 0;
      for (let j = 0; j < GROUP; j++) {
        const v = W[o + g + j];
        if (!Number.isFinite(v)) return `row ${r} column ${g + j} is ${v}`;
        if (v === 0) z++;
      }
      if (z < n[r] || (exact && z !== n[r])) return `row ${r} group ${g / GROUP} has ${z} zeros, n = ${n[r]}`;
    }
  }
  return undefined;
}

/** Number of weights a per-row n removes from a rows×K matrix. */
export function removedCount(n: ArrayLike<number>, K: number): number {
  let s = 0;
  for (let r = 0; r < n.length; r++) s += n[r];
  return (s * K) / GROUP;
}
