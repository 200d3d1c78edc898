// Writes a layout decision into the IR (choosing only, no conversions):
//   - stored kinds become the `memory` annotation of graph inputs, weights and the
//     results of top-level nodes (what the producer writes / the host uploads);
//   - read kinds of a fused kernel become the `memory` annotation of its parameters
//     (what the kernel reads; materialize-layout inserts a conversion where the two
//     differ);
//   - a plain node has no parameters to carry a read kind, so one that should read an
//     operand in another kind than it is stored is outlined into a one-node fused.group
//     (same kernel name, same launch count, same meaning) whose parameters carry it.
import type { Graph, Node, Value } from '../../ir/graph.ts';
import { makeGraph } from '../../ir/graph.ts';
import type { MemoryKind, TensorType } from '../../ir/types.ts';
import { freshNamer } from '../rewrite-utils.ts';
import type { Assignment, LayoutProblem } from './problem.ts';

/**
 * Graph attribute naming the device table a layout was chosen for, so a backend can
 * tune its kernels (work-group sizes) for the same device without being told again.
 */
export const LAYOUT_DEVICE_ATTR = 'layout_device';

export function applyLayout(graph: Graph, p: LayoutProblem, a: Assignment): Graph {
  const stored = new Map(p.tensors.map((t, i) => [t.name, a.stored[i]]));
  // Read kind of operand j of node i (untied sites only: tied ones read as stored).
  const reads = new Map<string, MemoryKind>();
  p.sites.forEach((s, k) => {
    if (s.operand >= 0) reads.set(`${s.node}:${s.operand}`, a.reads[k]);
  });
  const mark = (v: Value): Value => {
    const k = stored.get(v.name);
    return k === undefined || v.type.memory === k ? v : { ...v, type: withMemory(v.type, k) };
  };
  const fresh = freshNamer(graph);
  const nodes = graph.nodes.map((n, i) => {
    const readKind = (j: number) => reads.get(`${i}:${j}`) ?? stored.get(n.inputs[j]) ?? 'buffer';
    const outputs = n.outputs.map(mark);
    if (n.body) {
      const inputs = n.body.inputs.map((prm, j) => (prm.type.memory === readKind(j) ? prm : { ...prm, type: withMemory(prm.type, readKind(j)) }));
      return { ...n, outputs, body: { ...n.body, inputs } };
    }
    const differs = n.inputs.some((x, j) => readKind(j) !== (stored.get(x) ?? 'buffer'));
    return differs ? outlineOne({ ...n, outputs }, graph, readKind, fresh) : { ...n, outputs };
  });
  return makeGraph({ ...graph, inputs: graph.inputs.map(mark), weights: graph.weights.map(mark), nodes });
}

export function withMemory(t: TensorType, memory: MemoryKind): TensorType {
  return { ...t, memory };
}

/** `n` as a one-node fused.group whose parameters carry the read kinds. */
function outlineOne(n: Node, graph: Graph, readKind: (j: number) => MemoryKind, fresh: (base: string) => string): Node {
  const types = new Map<string, TensorType>([...graph.inputs, ...graph.weights].map((v) => [v.name, v.type]));
  for (const m of graph.nodes) for (const o of m.outputs) types.set(o.name, o.type);
  const params = n.inputs.map((x, j) => {
    const t = types.get(x)!;
    return { name: fresh(`${x}.in`), type: withMemory(t, readKind(j)) };
  });
  const results = n.outputs.map((o) => ({ name: fresh(`${o.name}.out`), type: { dtype: o.type.dtype, shape: [...o.type.shape] } }));
  return {
    op: 'fused.group',
    inputs: n.inputs,
    outputs: n.outputs,
    attrs: { kernel: n.op.slice(n.op.lastIndexOf('.') + 1) },
    body: { inputs: params, nodes: [{ ...n, inputs: params.map((q) => q.name), outputs: results }], outputs: results.map((r) => r.name) },
  };
}
