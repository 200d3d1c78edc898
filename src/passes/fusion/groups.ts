// Disjoint sets of dataflow nodes (union-find) with what the fusion rule asks of a
// candidate group: its members, how many reductions it holds, whether it holds an
// opaque op. Legality lives in rule.ts; this file only keeps the books.
import type { Dataflow } from './dataflow.ts';

export class Groups {
  readonly #parent: number[];
  readonly #members: number[][];
  readonly #reductions: number[];
  readonly #opaque: boolean[];

  constructor(df: Dataflow) {
    this.#parent = df.nodes.map((_, i) => i);
    this.#members = df.nodes.map((_, i) => [i]);
    this.#reductions = df.classes.map((c) => (c === 'reduction' ? 1 : 0));
    this.#opaque = df.classes.map((c) => c === 'opaque');
  }

  find(i: number): number {
    let r = i;
    while (this.#parent[r] !== r) r = this.#parent[r];
    // Path compression: point everything on the way at the root.
    while (this.#parent[i] !== r) {
      const next = this.#parent[i];
      this.#parent[i] = r;
      i = next;
    }
    return r;
  }

  /** Members of the group rooted at `root`, ascending (i.e. in topological order). */
  members(root: number): readonly number[] {
    return this.#members[root];
  }

  reductions(root: number): number {
    return this.#reductions[root];
  }

  opaque(root: number): boolean {
    return this.#opaque[root];
  }

  /** Merges the groups of the given roots; returns the new root. */
  union(roots: readonly number[]): number {
    const rs = [...new Set(roots.map((r) => this.find(r)))];
    const root = rs[0];
    for (const r of rs.slice(1)) {
      this.#parent[r] = root;
      this.#reductions[root] += this.#reductions[r];
      this.#opaque[root] ||= this.#opaque[r];
      this.#members[root] = mergeSorted(this.#members[root], this.#members[r]);
      this.#members[r] = [];
    }
    return root;
  }

  /** Every group's members, groups ordered by their first member. */
  all(): number[][] {
    const out: number[][] = [];
    this.#parent.forEach((_, i) => {
      if (this.find(i) === i) out.push([...this.#members[i]]);
    });
    return out.sort((a, b) => a[0] - b[0]);
  }
}

function mergeSorted(a: readonly number[], b: readonly number[]): number[] {
  const out: number[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (j >= b.length || (i < a.length && a[i] < b[j])) out.push(a[i++]);
    else out.push(b[j++]);
  }
  return out;
}
