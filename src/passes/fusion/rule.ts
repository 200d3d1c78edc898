// When may groups be merged into one kernel? The constraints that make a group a
// kernel a backend can emit directly: at most one reduction (the anchor; everything
// else elementwise or injective around it), nothing opaque, no cycle through the rest
// of the graph, no elementwise op that broadcasts an in-group value up to a larger
// shape (so each non-anchor op runs in the index space of the values it reads), and a
// size bound.
import { numel } from '../../ir/types.ts';
import type { Dataflow } from './dataflow.ts';
import type { Groups } from './groups.ts';

export interface RuleOptions {
  /** Most ops in one group. */
  readonly maxOps: number;
}

/** True when the union of the groups rooted at `roots` is a legal fused group. */
export function canMerge(df: Dataflow, groups: Groups, roots: readonly number[], opts: RuleOptions): boolean {
  const rs = [...new Set(roots.map((r) => groups.find(r)))];
  if (rs.length < 2) return false;
  let size = 0;
  let reductions = 0;
  for (const r of rs) {
    if (groups.opaque(r)) return false;
    size += groups.members(r).length;
    reductions += groups.reductions(r);
  }
  if (size > opts.maxOps || reductions > 1) return false;
  const set = new Set<number>();
  for (const r of rs) for (const m of groups.members(r)) set.add(m);
  return shapesStayLocal(df, set) && isConvex(df, set);
}

/**
 * An elementwise member may read in-group values only of its own size: `x[4] + u[3,4]`
 * with `x` computed in the group would need x at a different index than the one being
 * produced, which is no longer a per-element epilogue. Values from outside the group
 * are kernel arguments and may broadcast freely.
 */
function shapesStayLocal(df: Dataflow, set: ReadonlySet<number>): boolean {
  for (const m of set) {
    if (df.classes[m] !== 'elementwise') continue;
    const n = df.nodes[m];
    const size = numel(n.outputs[0].type.shape);
    for (const x of n.inputs) {
      const p = df.producer.get(x);
      if (p !== undefined && set.has(p) && numel(df.types.get(x)!.shape) !== size) return false;
    }
  }
  return true;
}

/**
 * No path leaves the set and comes back: otherwise the fused node would both feed and
 * consume some outside node, a cycle. Nodes are numbered topologically, so a walk can
 * stop past the set's last member.
 */
export function isConvex(df: Dataflow, set: ReadonlySet<number>): boolean {
  let last = -1;
  for (const m of set) last = Math.max(last, m);
  const seen = new Set<number>();
  const stack: number[] = [];
  for (const m of set) for (const s of df.succ[m]) if (!set.has(s) && s < last && !seen.has(s)) {
    seen.add(s);
    stack.push(s);
  }
  while (stack.length > 0) {
    const u = stack.pop()!;
    for (const s of df.succ[u]) {
      if (set.has(s)) return false;
      if (s < last && !seen.has(s)) {
        seen.add(s);
        stack.push(s);
      }
    }
  }
  return true;
}
