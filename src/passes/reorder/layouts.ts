// The permutation each class of axes takes. An atomic class (no split inside) takes the
// row order of one of the sorted weights that feed it, the one that saves the most
// gathered elements, so that weight's output needs no gather; every other member moves
// with it (the fold). A composite class (the input of a split) is the concatenation of
// its parts' classes, so its permutation is block-diagonal and the split stays valid;
// when it is pinned, or splits disagree about its parts, its parts are pinned too.
import type { AxisGraph, LinearSite } from './axes.ts';
import type { Perm } from './perm.ts';
import { isIdentity, samePerm } from './perm.ts';
import { numel } from '../../ir/types.ts';

/** Permutation of an axis by id; undefined means it stays in place. */
export type AxisLayout = (axis: number) => Perm | undefined;

export interface LayoutChoice {
  readonly layout: AxisLayout;
  /** The sites whose weight's order a class took (no gather needed there). */
  readonly folded: readonly LinearSite[];
}

export function chooseLayouts(g: AxisGraph, sortOf: (weight: string) => Perm, fold: boolean): LayoutChoice {
  const splitsOf = new Map<number, AxisGraph['splits'][number][]>();
  for (const s of g.splits) {
    const r = g.find(s.parent);
    splitsOf.set(r, [...(splitsOf.get(r) ?? []), s]);
  }
  const pinned = g.pinnedRoots();
  for (const [root, recs] of splitsOf) {
    const [first] = recs;
    const agree = recs.every(
      (r) => r.sizes.length === first.sizes.length && r.sizes.every((n, i) => n === first.sizes[i] && g.find(r.children[i]) === g.find(first.children[i])),
    );
    if (!agree) pinned.add(root);
  }
  // A pinned whole pins its parts (lengths strictly shrink, so this terminates).
  const work = [...pinned];
  while (work.length) {
    const root = work.pop()!;
    for (const rec of splitsOf.get(root) ?? []) {
      for (const c of rec.children) {
        const cr = g.find(c);
        if (!pinned.has(cr)) {
          pinned.add(cr);
          work.push(cr);
        }
      }
    }
  }

  const chosen = new Map<number, Perm>();
  const folded: LinearSite[] = [];
  if (fold) {
    const byRoot = new Map<number, LinearSite[]>();
    for (const s of g.sites) {
      const r = g.find(s.out);
      if (pinned.has(r) || splitsOf.has(r)) continue;
      byRoot.set(r, [...(byRoot.get(r) ?? []), s]);
    }
    for (const [root, sites] of byRoot) {
      // Candidates: each distinct row order; its score is the output elements it saves gathering.
      let best: { perm: Perm; score: number; sites: LinearSite[] } | undefined;
      for (const s of sites) {
        const perm = sortOf(s.weight);
        if (best && samePerm(best.perm, perm)) continue;
        const agreeing = sites.filter((t) => samePerm(sortOf(t.weight), perm));
        const score = agreeing.reduce((a, t) => a + numel(t.node.outputs[0].type.shape), 0);
        if (!best || score > best.score) best = { perm, score, sites: agreeing };
      }
      if (best && !isIdentity(best.perm)) {
        chosen.set(root, best.perm);
        folded.push(...best.sites);
      }
    }
  }

  const memo = new Map<number, Perm | undefined>();
  const layoutOf = (root: number): Perm | undefined => {
    if (memo.has(root)) return memo.get(root);
    let p: Perm | undefined;
    if (!pinned.has(root)) {
      const rec = splitsOf.get(root)?.[0];
      if (!rec) p = chosen.get(root);
      else {
        const parts = rec.children.map((c) => layoutOf(g.find(c)));
        if (parts.some((q) => q !== undefined)) {
          const out: number[] = [];
          rec.children.forEach((_, i) => {
            const off = out.length;
            const q = parts[i];
            for (let j = 0; j < rec.sizes[i]; j++) out.push(off + (q ? q[j] : j));
          });
          p = out;
        }
      }
    }
    memo.set(root, p);
    return p;
  };
  return { layout: (axis) => layoutOf(g.find(axis)), folded };
}
