// Rewrites a graph by a ReorderPlan: permutes weight data along the planned axes
// (recording a row permutation in the weight's `perm` and reordering its `cn4`),
// records the row permutation of state inputs and outputs in their types, and puts a
// `tensor.gather` after each linear whose sorted output order was not folded away.
import { SsmcError } from '../../errors.ts';
import type { Graph, Node, Value } from '../../ir/graph.ts';
import { makeGraph } from '../../ir/graph.ts';
import type { TensorType } from '../../ir/types.ts';
import { tensorType } from '../../ir/types.ts';
import { freshNamer } from '../rewrite-utils.ts';
import type { Perm } from './perm.ts';
import { compose, permuteAxis } from './perm.ts';
import type { ReorderPlan } from './plan.ts';

/** The type of a tensor whose rows were reordered by `rows`: annotations follow the rows. */
export function permuteRowsType(t: TensorType, rows: Perm): TensorType {
  return {
    ...t,
    perm: compose(t.perm ?? rows.map((_, i) => i), rows),
    ...(t.cn4 ? { cn4: compose(t.cn4, rows) } : {}),
  };
}

export function applyPlan(graph: Graph, plan: ReorderPlan): Graph {
  if (plan.axes.size === 0 && plan.gathers.length === 0) return graph;
  const interfaceRows = (v: Value): Value => {
    const moved = plan.axes.get(v.name);
    if (!moved) return v;
    for (const axis of moved.keys()) {
      // The axis analysis pins every other interface axis; reaching here is a bug.
      if (axis !== 0) throw new SsmcError('E_INTERNAL', `reorder-weights: axis ${axis} of interface value %${v.name} would move`);
    }
    return { ...v, type: permuteRowsType(v.type, moved.get(0)!) };
  };

  let weightData = graph.weightData;
  const weights = graph.weights.map((w) => {
    const moved = plan.axes.get(w.name);
    if (!moved) return w;
    let data = weightData.get(w.name);
    let type = w.type;
    for (const [axis, p] of moved) {
      data = permuteAxis(data, w.type.shape, axis, p);
      if (axis === 0) type = permuteRowsType(type, p);
    }
    weightData = weightData.with(w.name, data);
    return { ...w, type };
  });

  const returned = new Set(graph.outputs);
  const gatherAt = new Map(plan.gathers.map((s) => [s.node, s]));
  const fresh = freshNamer(graph);
  const nodes: Node[] = [];
  for (const node of graph.nodes) {
    const outputs = node.outputs.map((v) => (returned.has(v.name) ? interfaceRows(v) : v));
    const site = gatherAt.get(node);
    if (!site) {
      nodes.push(outputs.every((v, i) => v === node.outputs[i]) ? node : { ...node, outputs });
      continue;
    }
    // The linear now yields its sorted order under a new name; the gather gives the
    // planned order back under the old one, so every use (and the interface) is unchanged.
    const y = outputs[0];
    const raw = fresh(`${y.name}.sorted`);
    const index = fresh(`${y.name}.order`);
    weights.push({ name: index, type: tensorType('i32', [site.index.length]) });
    weightData = weightData.with(index, Int32Array.from(site.index));
    nodes.push({ ...node, outputs: [{ name: raw, type: { ...y.type } }] });
    nodes.push({ op: 'tensor.gather', inputs: [raw, index], outputs: [y], attrs: {} });
  }
  const inputs = graph.inputs.map(interfaceRows);
  return makeGraph({ ...graph, inputs, weights, nodes, weightData });
}
