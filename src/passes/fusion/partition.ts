// The fusion rule as a partition of a region's top-level nodes into kernels. Decided
// only by the op registry's fusion classes (after TVM's FuseOps), never by op names:
//
//  0. An elementwise/injective node joins its immediate post-dominator when that is
//     elementwise/injective too and every path to it is: such a node is only ever a
//     step towards its post-dominator, so nothing outside needs its value.
//  1. A reduction (the anchor) takes the elementwise/injective groups that consume its
//     results as its epilogue, repeatedly (epilogues first: a reduction's result is
//     then written once, after its epilogue).
//  2. An elementwise/injective group left over joins a reduction group that consumes
//     it, as that group's prologue (downstream groups first, so prologues chain).
//  3. Elementwise/injective groups still left take their elementwise/injective
//     consumers as epilogues (a value with several users becomes a group output).
//
// Every merge must pass `canMerge` (one reduction at most, nothing opaque, convex,
// shape-local elementwise ops, at most `maxOps` ops); opaque nodes stay alone.
import type { Dataflow } from './dataflow.ts';
import { EXIT } from './dataflow.ts';
import { Groups } from './groups.ts';
import { immediatePostDominators } from './post-dominators.ts';
import type { RuleOptions } from './rule.ts';
import { canMerge } from './rule.ts';

const light = (c: string) => c === 'elementwise' || c === 'injective';

/** Groups of node indices (ascending), ordered by first member; singletons included. */
export function partitionForFusion(df: Dataflow, opts: RuleOptions): number[][] {
  const groups = new Groups(df);
  const n = df.nodes.length;
  const merge = (roots: readonly number[]) => {
    if (!canMerge(df, groups, roots, opts)) return false;
    groups.union(roots);
    return true;
  };
  const lightGroup = (r: number) => groups.reductions(r) === 0 && !groups.opaque(r);

  // 0. Towards the immediate post-dominator, along elementwise/injective paths only.
  const ipdom = immediatePostDominators(df.dag, EXIT);
  for (let v = 0; v < n; v++) {
    if (!light(df.classes[v])) continue;
    const p = ipdom.get(String(v));
    if (p === undefined || p === EXIT) continue;
    const target = Number(p);
    const path = nodesBefore(df, v, target);
    if (!light(df.classes[target]) || path.some((u) => !light(df.classes[u]))) continue;
    merge([v, ...path, target]);
  }

  // 1. Reduction epilogues.
  for (let r = 0; r < n; r++) {
    if (df.classes[r] !== 'reduction') continue;
    for (let grew = true; grew; ) {
      grew = false;
      const root = groups.find(r);
      for (const c of consumers(df, groups, root)) {
        const cr = groups.find(c);
        if (lightGroup(cr) && merge([root, cr])) {
          grew = true;
          break;
        }
      }
    }
  }

  // 2. Prologues of a consuming reduction group, downstream groups first.
  const byLast = groups.all().sort((a, b) => b[b.length - 1] - a[a.length - 1]);
  for (const members of byLast) {
    const root = groups.find(members[0]);
    if (!lightGroup(root)) continue;
    for (const c of consumers(df, groups, root)) {
      const cr = groups.find(c);
      if (groups.reductions(cr) === 1 && merge([root, cr])) break;
    }
  }

  // 3. Elementwise/injective epilogues of groups without an anchor.
  for (let v = 0; v < n; v++) {
    for (let grew = true; grew; ) {
      grew = false;
      const root = groups.find(v);
      if (!lightGroup(root)) break;
      for (const c of consumers(df, groups, root)) {
        const cr = groups.find(c);
        if (lightGroup(cr) && merge([root, cr])) {
          grew = true;
          break;
        }
      }
    }
  }
  return groups.all();
}

/** Nodes reachable from `from` without passing `to` (excluding both), ascending. */
function nodesBefore(df: Dataflow, from: number, to: number): number[] {
  const seen = new Set<number>();
  const stack = [from];
  while (stack.length > 0) {
    const u = stack.pop()!;
    for (const s of df.succ[u]) {
      if (s === to || s > to || seen.has(s)) continue;
      seen.add(s);
      stack.push(s);
    }
  }
  return [...seen].sort((a, b) => a - b);
}

/** Nodes outside the group that use its results, ascending. */
function consumers(df: Dataflow, groups: Groups, root: number): number[] {
  const out = new Set<number>();
  for (const m of groups.members(root)) for (const s of df.succ[m]) if (groups.find(s) !== root) out.add(s);
  return [...out].sort((a, b) => a - b);
}
