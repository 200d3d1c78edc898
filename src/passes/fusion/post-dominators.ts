// Immediate post-dominators of a digraph with a single exit (Cooper, Harvey and
// Kennedy, "A Simple, Fast Dominance Algorithm", run on the reversed graph). Fusion
// uses them as TVM's FuseOps does: a node whose every path to the exit passes through
// p can be computed inside p's kernel without anything outside needing it first.
import { Graph as DiGraph, alg } from '@dagrejs/graphlib';

/**
 * Node id -> its immediate post-dominator; the exit maps to itself. Nodes that cannot
 * reach the exit are absent.
 */
export function immediatePostDominators(g: DiGraph, exit: string): Map<string, string> {
  const rev = new DiGraph({ directed: true });
  for (const v of g.nodes()) rev.setNode(v);
  for (const e of g.edges()) rev.setEdge(e.w, e.v);
  // Post-order of the reversed graph from the exit: the exit comes last.
  const order = alg.postorder(rev, [exit]);
  const index = new Map(order.map((v, i) => [v, i]));
  const ipdom = new Map<string, string>([[exit, exit]]);
  const intersect = (a: string, b: string): string => {
    while (a !== b) {
      while (index.get(a)! < index.get(b)!) a = ipdom.get(a)!;
      while (index.get(b)! < index.get(a)!) b = ipdom.get(b)!;
    }
    return a;
  };
  for (let changed = true; changed; ) {
    changed = false;
    // Reverse post-order, skipping the exit.
    for (let i = order.length - 2; i >= 0; i--) {
      const v = order[i];
      let next: string | undefined;
      // The reversed graph's predecessors are the original successors.
      for (const s of g.successors(v) ?? []) {
        if (!ipdom.has(s)) continue;
        next = next === undefined ? s : intersect(s, next);
      }
      if (next !== undefined && ipdom.get(v) !== next) {
        ipdom.set(v, next);
        changed = true;
      }
    }
  }
  return ipdom;
}
