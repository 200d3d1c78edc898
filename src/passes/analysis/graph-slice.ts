// Generic graph surgery for calibration: the dominator tree of values reachable from the
// token input, and slices (the nodes computing some values from other values).
//
// Calibration runs a model layer by layer. A value that dominates every remaining layer
// input (every path from the tokens to them passes through it: in a residual network,
// the residual stream between blocks) can be cached over all calibration tokens and the
// rest of the model re-run from it alone. Nothing here knows about Mamba: blocks are
// found from the graph's data flow.
import { SsmcError } from '../../errors.ts';
import type { Graph, Node, Value } from '../../ir/graph.ts';

/** The single integer graph input (token ids). */
export function tokenInput(graph: Graph): Value {
  const ints = graph.inputs.filter((v) => v.type.dtype === 'i32');
  if (ints.length !== 1) {
    throw new SsmcError('E_PASS', `calibration needs a graph with exactly one i32 (token) input; @${graph.name} has ${ints.length}`);
  }
  const t = ints[0];
  if (t.type.shape.length > 1) throw new SsmcError('E_PASS', `token input %${t.name} must be a scalar (decode) or a vector (prefill), got rank ${t.type.shape.length}`);
  return t;
}

export interface DominatorTree {
  /** Immediate dominator of each value reachable from the source (source → null). */
  readonly idom: ReadonlyMap<string, string | null>;
  readonly depth: ReadonlyMap<string, number>;
}

/**
 * Dominators over the value DAG rooted at `source`: weights and other graph inputs are
 * constants and do not create paths. Nodes are in topological order, so each value's
 * immediate dominator is the dominator-tree LCA of its node's reachable inputs.
 */
export function dominatorTree(graph: Graph, source: string): DominatorTree {
  const idom = new Map<string, string | null>([[source, null]]);
  const depth = new Map<string, number>([[source, 0]]);
  for (const node of graph.nodes) {
    let lca: string | undefined;
    for (const x of node.inputs) {
      if (!idom.has(x)) continue;
      lca = lca === undefined ? x : lcaOf({ idom, depth }, lca, x);
    }
    if (lca === undefined) continue;
    for (const o of node.outputs) {
      idom.set(o.name, lca);
      depth.set(o.name, depth.get(lca)! + 1);
    }
  }
  return { idom, depth };
}

export function lcaOf(t: DominatorTree, a: string, b: string): string {
  let x = a, y = b;
  let dx = t.depth.get(x), dy = t.depth.get(y);
  if (dx === undefined || dy === undefined) throw new SsmcError('E_INTERNAL', `value %${dx === undefined ? x : y} is not reachable from the tokens`);
  while (dx > dy) {
    x = t.idom.get(x)!;
    dx--;
  }
  while (dy > dx) {
    y = t.idom.get(y)!;
    dy--;
  }
  while (x !== y) {
    x = t.idom.get(x)!;
    y = t.idom.get(y)!;
  }
  return x;
}

export function lcaAll(t: DominatorTree, names: readonly string[]): string {
  let acc = names[0];
  for (let i = 1; i < names.length; i++) acc = lcaOf(t, acc, names[i]);
  return acc;
}

/** Every value of the graph (inputs and node outputs) by name. */
export function valueTable(graph: Graph): Map<string, Value> {
  const m = new Map<string, Value>();
  for (const v of graph.inputs) m.set(v.name, v);
  for (const n of graph.nodes) for (const o of n.outputs) m.set(o.name, o);
  return m;
}

/**
 * A graph computing `outputs` from the values `from` (which become its first inputs),
 * the graph inputs it still needs (appended after them) and the weights. Only top-level
 * nodes are sliced (a fused body is kept whole with its node). E_INTERNAL when an output
 * needs a graph input listed in `forbidden` (i.e. `from` does not cut it off).
 */
export function sliceGraph(graph: Graph, from: readonly string[], outputs: readonly string[], forbidden: ReadonlySet<string> = new Set()): Graph {
  const fromSet = new Set(from);
  const needed = new Set(outputs);
  const kept: Node[] = [];
  for (let i = graph.nodes.length - 1; i >= 0; i--) {
    const node = graph.nodes[i];
    if (!node.outputs.some((o) => needed.has(o.name) && !fromSet.has(o.name))) continue;
    kept.push(node);
    for (const x of node.inputs) if (!fromSet.has(x)) needed.add(x);
  }
  kept.reverse();
  const values = valueTable(graph);
  const inputs: Value[] = from.map((n) => {
    const v = values.get(n);
    if (!v) throw new SsmcError('E_INTERNAL', `slice: no value %${n}`);
    return v;
  });
  for (const v of graph.inputs) {
    if (fromSet.has(v.name) || !needed.has(v.name)) continue;
    if (forbidden.has(v.name)) throw new SsmcError('E_INTERNAL', `slice: %${outputs.join(', %')} depend on %${v.name} other than through %${from.join(', %')}`);
    inputs.push(v);
  }
  return { ...graph, name: `${graph.name}_slice`, inputs, nodes: kept, outputs: [...outputs] };
}
