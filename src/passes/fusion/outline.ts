// Turns a partition of a graph's top-level nodes into fused.group nodes. A group of
// two or more nodes becomes one node whose body is the members (in their order):
// values from outside become parameters (weights stay direct references, as bodies
// may use them), values used outside the group, returned by the graph, or never used
// become the node's results under their original names (so no use changes), and the
// body defines them under fresh names. Nodes are then put back in a topological order
// that keeps the original order wherever it can.
import { SsmcError } from '../../errors.ts';
import type { Graph, Node, Value } from '../../ir/graph.ts';
import { makeGraph } from '../../ir/graph.ts';
import { freshNamer } from '../rewrite-utils.ts';
import type { Dataflow } from './dataflow.ts';

/** `a_b_c` from the members' op kinds (the part after the last dot), in order. */
export function kernelName(nodes: readonly Node[]): string {
  return nodes.map((n) => n.op.slice(n.op.lastIndexOf('.') + 1)).join('_');
}

export function outlineGroups(graph: Graph, df: Dataflow, groups: readonly (readonly number[])[]): Graph {
  if (groups.every((g) => g.length < 2)) return graph;
  const fresh = freshNamer(graph);
  const weights = new Set(graph.weights.map((w) => w.name));
  const unitOf = new Int32Array(df.nodes.length);
  groups.forEach((g, u) => g.forEach((i) => (unitOf[i] = u)));
  const units = groups.map((g) => (g.length === 1 ? df.nodes[g[0]] : fuse(df, g, weights, fresh)));
  const order = stableTopoOrder(df, groups, unitOf);
  return makeGraph({ ...graph, nodes: order.map((u) => units[u]) });
}

function fuse(df: Dataflow, members: readonly number[], weights: ReadonlySet<string>, fresh: (base: string) => string): Node {
  const inside = new Set(members);
  const rename = new Map<string, string>();
  const params: Value[] = [];
  const outer: string[] = [];
  for (const i of members) {
    for (const x of df.nodes[i].inputs) {
      const p = df.producer.get(x);
      if (rename.has(x) || weights.has(x) || (p !== undefined && inside.has(p))) continue;
      const name = fresh(`${x}.in`);
      rename.set(x, name);
      params.push({ name, type: typeOfOuter(df, x, i) });
      outer.push(x);
    }
  }
  const results: Value[] = [];
  const yields: string[] = [];
  for (const i of members) {
    for (const o of df.nodes[i].outputs) {
      const uses = df.users.get(o.name) ?? [];
      if (!df.yields.has(o.name) && uses.length > 0 && uses.every((u) => inside.has(u))) continue;
      const name = fresh(`${o.name}.out`);
      rename.set(o.name, name);
      results.push(o);
      yields.push(name);
    }
  }
  const at = (x: string) => rename.get(x) ?? x;
  const body = members.map((i) => {
    const n = df.nodes[i];
    return { ...n, inputs: n.inputs.map(at), outputs: n.outputs.map((o) => ({ ...o, name: at(o.name) })) };
  });
  return {
    op: 'fused.group',
    inputs: outer,
    outputs: results,
    attrs: { kernel: kernelName(body) },
    body: { inputs: params, nodes: body, outputs: yields },
  };
}

/** The type a parameter takes: that of the outer value (a graph input or a result). */
function typeOfOuter(df: Dataflow, name: string, user: number): Value['type'] {
  const t = df.types.get(name);
  if (!t) throw new SsmcError('E_INTERNAL', `fuse-ops: no type for %${name} used by ${df.nodes[user].op}`);
  return t;
}

/**
 * Kahn's algorithm over the units (groups), always taking the ready unit whose first
 * member comes first; an unsatisfiable order means the partition had a cycle.
 */
function stableTopoOrder(df: Dataflow, groups: readonly (readonly number[])[], unitOf: Int32Array): number[] {
  const deps = groups.map(() => new Set<number>());
  const outs = groups.map(() => new Set<number>());
  groups.forEach((g, u) =>
    g.forEach((i) =>
      df.pred[i].forEach((p) => {
        const pu = unitOf[p];
        if (pu !== u) {
          deps[u].add(pu);
          outs[pu].add(u);
        }
      }),
    ),
  );
  const missing = deps.map((d) => d.size);
  // Units are already sorted by first member, so a sorted ready list is a min-heap.
  const ready: number[] = [];
  missing.forEach((m, u) => m === 0 && ready.push(u));
  const order: number[] = [];
  while (ready.length > 0) {
    const u = ready.shift()!;
    order.push(u);
    for (const v of outs[u]) if (--missing[v] === 0) insertSorted(ready, v);
  }
  if (order.length !== groups.length) throw new SsmcError('E_INTERNAL', 'fuse-ops: the fused groups form a cycle');
  return order;
}

function insertSorted(xs: number[], v: number): void {
  let lo = 0;
  let hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (xs[mid] < v) lo = mid + 1;
    else hi = mid;
  }
  xs.splice(lo, 0, v);
}
