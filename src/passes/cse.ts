// cse: common-subexpression elimination (as MLIR's cse). Two nodes are the same
// expression when they have the same op, the same inputs (after earlier merges), equal
// attributes, the same output types (annotations included) and no body; the later one
// is removed and its uses take the earlier one's results. Fused bodies are closed
// regions and are processed each on their own; nodes with a body are never merged.
// A node that defines one of the graph's outputs is kept (output names are the graph's
// interface), though later uses still see the earlier equivalent.
import type { Graph, Node, Region } from '../ir/graph.ts';
import { attrsEqual, makeGraph } from '../ir/graph.ts';
import { typeEqual } from '../ir/types.ts';
import { definePass } from './pass.ts';

export const cse = definePass({
  name: 'cse',
  description: 'merge nodes with the same op, inputs and attributes (no body)',
  options: {},
  run(graph: Graph): Graph {
    const region = cseRegion(graph, new Set(graph.outputs));
    return region === graph ? graph : makeGraph({ ...graph, nodes: region.nodes, outputs: region.outputs });
  },
});

function sameExpression(a: Node, b: Node): boolean {
  return (
    a.op === b.op &&
    a.inputs.length === b.inputs.length &&
    a.inputs.every((x, i) => x === b.inputs[i]) &&
    a.outputs.length === b.outputs.length &&
    attrsEqual(a.attrs, b.attrs) &&
    a.outputs.every((o, i) => typeEqual(o.type, b.outputs[i].type))
  );
}

/** `pinned`: names whose defining node must stay (the graph's outputs). */
function cseRegion(region: Region, pinned: ReadonlySet<string>): Region {
  const rename = new Map<string, string>();
  const resolve = (n: string) => rename.get(n) ?? n;
  const table = new Map<string, Node[]>();
  const nodes: Node[] = [];
  let changed = false;
  for (const node of region.nodes) {
    const inputs = node.inputs.map(resolve);
    const body = node.body ? cseRegion(node.body, new Set()) : undefined;
    const n: Node = body === node.body && inputs.every((x, i) => x === node.inputs[i]) ? node : { ...node, inputs, ...(body ? { body } : {}) };
    if (n !== node) changed = true;
    if (!n.body && n.outputs.length > 0) {
      // Value names cannot contain '(' or ',', so this key is unambiguous.
      const key = `${n.op}(${inputs.join(',')})`;
      const bucket = table.get(key);
      const same = bucket?.find((m) => sameExpression(m, n));
      if (same && !n.outputs.some((o) => pinned.has(o.name))) {
        n.outputs.forEach((o, i) => rename.set(o.name, same.outputs[i].name));
        changed = true;
        continue;
      }
      if (!same) {
        if (bucket) bucket.push(n);
        else table.set(key, [n]);
      }
    }
    nodes.push(n);
  }
  const outputs = region.outputs.map(resolve);
  if (!changed && outputs.every((x, i) => x === region.outputs[i])) return region;
  return { ...region, nodes, outputs };
}
