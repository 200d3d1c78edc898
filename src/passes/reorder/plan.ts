// What reorder-weights will do to a graph, decided before anything is rewritten (and
// inspectable by tests and tools): which C_n^4 weights get their rows sorted by n, which
// are left and why, the permutation of every tensor axis that moves, and the gathers
// that restore an output order where a sort could not be folded.
import type { Graph, Node } from '../../ir/graph.ts';
import { walkNodes } from '../../ir/graph.ts';
import type { AxisRef } from './axes.ts';
import { buildAxisGraph } from './axes.ts';
import { chooseLayouts } from './layouts.ts';
import type { Perm } from './perm.ts';
import { compose, invert, isIdentity, stableSortBy } from './perm.ts';

export interface ReorderOptions {
  /** Fold sorts into neighbouring weights where exact (default true); false gathers every sort. */
  readonly fold?: boolean;
  /** Let conv/scan state inputs and outputs take a row permutation, recorded in their types' `perm` (default true). */
  readonly permuteState?: boolean;
}

export interface SkippedWeight {
  readonly weight: string;
  readonly reason: string;
}

export interface GatherSite {
  /** The linear whose output is gathered. */
  readonly node: Node;
  readonly weight: string;
  /** out[j] = sorted[index[j]]. */
  readonly index: Perm;
}

export interface ReorderPlan {
  /** Weights whose rows end up sorted by ascending n (stable), with their row order. */
  readonly sorted: ReadonlyMap<string, Perm>;
  /** C_n^4 weights with mixed n that stay as they are. */
  readonly skipped: readonly SkippedWeight[];
  /** Every tensor axis that is permuted (weights, graph inputs and values alike). */
  readonly axes: ReadonlyMap<string, ReadonlyMap<number, Perm>>;
  /** Linears whose output needs a gather because their weight's sort was not folded. */
  readonly gathers: readonly GatherSite[];
  /** Weights whose sort a whole class of channels took over (no gather there). */
  readonly folded: readonly string[];
}

export function planReorder(graph: Graph, opts: ReorderOptions = {}): ReorderPlan {
  const { sorted, skipped, biasOf } = sortableWeights(graph);
  const g = buildAxisGraph(graph, { sorted: new Set(sorted.keys()), permuteState: opts.permuteState ?? true });
  const { layout, folded } = chooseLayouts(g, (w) => sorted.get(w)!, opts.fold ?? true);

  const axes = new Map<string, Map<number, Perm>>();
  g.refs.forEach(({ tensor, axis }: AxisRef, id) => {
    // A sorted weight's rows (and its biases) follow its own sort, not a class.
    const own = axis === 0 ? sorted.get(tensor) ?? sorted.get(biasOf.get(tensor) ?? '') : undefined;
    const p = own ?? layout(id);
    if (!p || isIdentity(p)) return;
    if (!axes.has(tensor)) axes.set(tensor, new Map());
    axes.get(tensor)!.set(axis, p);
  });

  const gathers: GatherSite[] = [];
  for (const s of g.sites) {
    const rows = sorted.get(s.weight)!;
    const want = layout(s.out);
    // The linear yields out[S[i]] at i; position j must hold out[L[j]] = sorted[S⁻¹[L[j]]].
    const index = want ? compose(invert(rows), want) : invert(rows);
    if (!isIdentity(index)) gathers.push({ node: s.node, weight: s.weight, index });
  }
  return { sorted, skipped, axes, gathers, folded: [...new Set(folded.map((s) => s.weight))] };
}

/**
 * C_n^4 weights the pass can sort: mixed n (a uniform one is grouped in any order and
 * simply moves with its neighbours), used only as the weight of top-level linears whose
 * biases are weights used nowhere else, and not returned by the graph.
 */
function sortableWeights(graph: Graph): { sorted: Map<string, Perm>; skipped: SkippedWeight[]; biasOf: Map<string, string> } {
  const uses = new Map<string, { node: Node; index: number }[]>();
  for (const node of graph.nodes) node.inputs.forEach((x, index) => uses.set(x, [...(uses.get(x) ?? []), { node, index }]));
  const inBodies = new Set<string>();
  for (const n of graph.nodes) if (n.body) for (const m of walkNodes(n.body)) for (const x of m.inputs) inBodies.add(x);
  const returned = new Set(graph.outputs);
  const weights = new Set(graph.weights.map((w) => w.name));

  const sorted = new Map<string, Perm>();
  const skipped: SkippedWeight[] = [];
  const biasOf = new Map<string, string>();
  for (const w of graph.weights) {
    const cn4 = w.type.cn4;
    if (!cn4 || w.type.shape.length !== 2 || cn4.every((n) => n === cn4[0])) continue;
    const why = unsortable(w.name);
    if (why) {
      skipped.push({ weight: w.name, reason: why });
      continue;
    }
    sorted.set(w.name, stableSortBy(cn4));
    for (const { node } of uses.get(w.name) ?? []) if (node.inputs[2] !== undefined) biasOf.set(node.inputs[2], w.name);
  }
  return { sorted, skipped, biasOf };

  function unsortable(w: string): string | undefined {
    if (returned.has(w)) return 'the graph returns it';
    if (inBodies.has(w)) return 'a fused group uses it';
    for (const { node, index } of uses.get(w) ?? []) {
      if (node.op !== 'nn.linear' || index !== 1) return `it is operand ${index} of ${node.op} (only linear weights are sorted)`;
      const b = node.inputs[2];
      if (b === undefined) continue;
      if (!weights.has(b)) return `the bias of its linear, %${b}, is not a weight`;
      if (returned.has(b) || inBodies.has(b)) return `its bias @${b} is used elsewhere`;
      if ((uses.get(b) ?? []).some((u) => u.node.op !== 'nn.linear' || u.index !== 2 || u.node.inputs[1] !== w)) return `its bias @${b} is used elsewhere`;
    }
    return undefined;
  }
}
