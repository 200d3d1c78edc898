// Permutations as plain index arrays, in the IR's `perm` convention: position i of the
// permuted order holds element p[i] of the original order.
import type { WeightArray } from '../../ir/weights.ts';

export type Perm = readonly number[];

export function identity(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

export function isIdentity(p: Perm): boolean {
  return p.every((v, i) => v === i);
}

export function samePerm(a: Perm, b: Perm): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/** q with q[p[i]] = i: where each original element went. */
export function invert(p: Perm): number[] {
  const q = new Array<number>(p.length);
  p.forEach((v, i) => (q[v] = i));
  return q;
}

/** Applying `first` then `second` to an order: position i holds first[second[i]]. */
export function compose(first: Perm, second: Perm): number[] {
  return second.map((i) => first[i]);
}

/** The stable sort of positions by ascending key: equal keys keep their order. */
export function stableSortBy(keys: readonly number[]): number[] {
  return identity(keys.length).sort((a, b) => keys[a] - keys[b] || a - b);
}

/** True when the keys never decrease. */
export function isSorted(keys: readonly number[]): boolean {
  return keys.every((k, i) => i === 0 || keys[i - 1] <= k);
}

/** A copy of row-major `data` (of `shape`) with `axis` reordered: out[.., i, ..] = in[.., p[i], ..]. */
export function permuteAxis<T extends WeightArray | Float32Array | Int32Array>(data: T, shape: readonly number[], axis: number, p: Perm): T {
  const out = new (data.constructor as new (n: number) => T)(data.length);
  const n = shape[axis];
  let inner = 1;
  for (let a = axis + 1; a < shape.length; a++) inner *= shape[a];
  const outer = n === 0 || inner === 0 ? 0 : data.length / (n * inner);
  for (let o = 0; o < outer; o++) {
    const base = o * n * inner;
    for (let i = 0; i < n; i++) out.set(data.subarray(base + p[i] * inner, base + (p[i] + 1) * inner), base + i * inner);
  }
  return out;
}
