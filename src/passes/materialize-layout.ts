// materialize-layout: applies the layout select-layout chose. Wherever a fused kernel
// reads an operand in another memory kind than the operand is stored in (its
// parameter's `memory` differs from the value's), a `mem.to_image` / `mem.to_buffer`
// node is inserted before the first such kernel, and every kernel that reads the value
// in that kind reads the copy: one conversion per value and target kind. Numerically a
// no-op (conversions are identities). Afterwards every kernel reads each operand in
// the kind its value's type states, so the backend reads all decisions off the types
// (specs/layout.md). Unannotated values are buffers; an unannotated parameter reads
// what is stored; plain nodes always read what is stored.
import type { Graph, Node } from '../ir/graph.ts';
import { makeGraph } from '../ir/graph.ts';
import { conversionOp } from '../ir/ops/mem-convert.ts';
import type { MemoryKind, TensorType } from '../ir/types.ts';
import { withMemory } from './layout/apply.ts';
import { definePass } from './pass.ts';
import { freshNamer } from './rewrite-utils.ts';

export const materializeLayout = definePass({
  name: 'materialize-layout',
  description: 'insert mem.to_image / mem.to_buffer where a kernel reads a value in another memory kind than it is stored in',
  options: {},
  run(graph: Graph): Graph {
    const types = new Map<string, TensorType>([...graph.inputs, ...graph.weights].map((v) => [v.name, v.type]));
    for (const n of graph.nodes) for (const o of n.outputs) types.set(o.name, o.type);
    const stored = (x: string): MemoryKind => types.get(x)?.memory ?? 'buffer';
    const fresh = freshNamer(graph);
    const copies = new Map<string, string>(); // `${value}\0${kind}` -> name of the copy
    const nodes: Node[] = [];
    let changed = false;
    for (const n of graph.nodes) {
      if (!n.body) {
        nodes.push(n);
        continue;
      }
      const inputs = n.inputs.map((x, j) => {
        const want = n.body!.inputs[j].type.memory;
        if (want === undefined || want === stored(x)) return x;
        const key = `${x}\0${want}`;
        let copy = copies.get(key);
        if (copy === undefined) {
          copy = fresh(`${x}.${want === 'image2d' ? 'img' : 'buf'}`);
          copies.set(key, copy);
          nodes.push({ op: conversionOp(want), inputs: [x], outputs: [{ name: copy, type: withMemory(types.get(x)!, want) }], attrs: {} });
        }
        return copy;
      });
      if (inputs.every((x, j) => x === n.inputs[j])) nodes.push(n);
      else {
        changed = true;
        nodes.push({ ...n, inputs });
      }
    }
    return changed ? makeGraph({ ...graph, nodes }) : graph;
  },
});
