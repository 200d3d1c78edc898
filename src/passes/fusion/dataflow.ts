// The dataflow graph of a region's top-level nodes, the one structure every fusion
// analysis walks. Nodes are numbered by their position in the region (which is a
// topological order, so `a < b` is a cheap "b cannot reach a" test); a virtual EXIT
// node follows every node whose results leave the region or are never used, so that
// every node reaches EXIT and post-dominance is defined for all of them.
import { Graph as DiGraph } from '@dagrejs/graphlib';
import type { Node, Region } from '../../ir/graph.ts';
import type { FusionClass } from '../../ir/op-registry.ts';
import { findOp } from '../../ir/op-registry.ts';
import type { TensorType } from '../../ir/types.ts';

/** Id of the virtual exit node in `Dataflow.dag`. */
export const EXIT = 'exit';

export interface Dataflow {
  readonly nodes: readonly Node[];
  /** Fusion class of each node (unknown ops count as opaque). */
  readonly classes: readonly FusionClass[];
  /** Successor / predecessor node indices, deduplicated, ascending. */
  readonly succ: readonly (readonly number[])[];
  readonly pred: readonly (readonly number[])[];
  /** Value name -> index of the node defining it (graph inputs and weights absent). */
  readonly producer: ReadonlyMap<string, number>;
  /** Value name -> indices of the nodes using it, ascending. */
  readonly users: ReadonlyMap<string, readonly number[]>;
  /** Names the region yields. */
  readonly yields: ReadonlySet<string>;
  /** Types of the region's parameters and of every value a node defines. */
  readonly types: ReadonlyMap<string, TensorType>;
  /** The same edges as a graphlib digraph, node ids `String(index)`, plus EXIT. */
  readonly dag: DiGraph;
}

export function buildDataflow(region: Region): Dataflow {
  const nodes = region.nodes;
  const producer = new Map<string, number>();
  const types = new Map<string, TensorType>(region.inputs.map((v) => [v.name, v.type]));
  nodes.forEach((n, i) =>
    n.outputs.forEach((o) => {
      producer.set(o.name, i);
      types.set(o.name, o.type);
    }),
  );
  const users = new Map<string, number[]>();
  const succ = nodes.map(() => new Set<number>());
  const pred = nodes.map(() => new Set<number>());
  nodes.forEach((n, i) => {
    for (const x of n.inputs) {
      const list = users.get(x);
      if (list) {
        if (list[list.length - 1] !== i) list.push(i);
      } else users.set(x, [i]);
      const p = producer.get(x);
      if (p !== undefined) {
        succ[p].add(i);
        pred[i].add(p);
      }
    }
  });
  const yields = new Set(region.outputs);
  const dag = new DiGraph({ directed: true });
  dag.setNode(EXIT);
  nodes.forEach((_, i) => dag.setNode(String(i)));
  nodes.forEach((n, i) => {
    for (const s of succ[i]) dag.setEdge(String(i), String(s));
    const leaves = n.outputs.some((o) => yields.has(o.name) || !users.has(o.name));
    if (leaves || succ[i].size === 0) dag.setEdge(String(i), EXIT);
  });
  const sorted = (s: Set<number>) => [...s].sort((a, b) => a - b);
  return {
    nodes,
    classes: nodes.map((n) => findOp(n.op)?.fusion ?? 'opaque'),
    succ: succ.map(sorted),
    pred: pred.map(sorted),
    producer,
    users,
    yields,
    types,
    dag,
  };
}
