// dce: dead-code elimination. Keeps the nodes the graph's outputs depend on (every op
// is pure: state is explicit inputs and outputs), prunes fused bodies the same way
// against their yields, and drops weights nothing uses, with their data (and any data
// entry without a declaration). Graph inputs are the signature and always stay.
import type { Graph, Node, Region } from '../ir/graph.ts';
import { makeGraph } from '../ir/graph.ts';
import { definePass } from './pass.ts';

export const dce = definePass({
  name: 'dce',
  description: 'remove nodes whose results the graph outputs do not use, and unused weights with their data',
  options: {},
  run(graph: Graph): Graph {
    const used = new Set<string>();
    const nodes = liveNodes(graph, used);
    const weights = graph.weights.filter((w) => used.has(w.name));
    const declared = new Set(weights.map((w) => w.name));
    let weightData = graph.weightData;
    for (const name of [...graph.weightData.names()]) if (!declared.has(name)) weightData = weightData.without(name);
    if (nodes === graph.nodes && weights.length === graph.weights.length && weightData === graph.weightData) return graph;
    return makeGraph({ ...graph, nodes, weights, weightData });
  },
});

/**
 * The live nodes of `region` (identity kept when none is dead); every name a live node
 * or the region's outputs use is added to `used`.
 */
function liveNodes(region: Region, used: Set<string>): readonly Node[] {
  const live = new Set(region.outputs);
  for (const n of region.outputs) used.add(n);
  const kept: Node[] = [];
  let changed = false;
  for (let i = region.nodes.length - 1; i >= 0; i--) {
    const node = region.nodes[i];
    if (!node.outputs.some((o) => live.has(o.name))) {
      changed = true;
      continue;
    }
    let n = node;
    if (node.body) {
      const bodyNodes = liveNodes(node.body, used);
      if (bodyNodes !== node.body.nodes) {
        n = { ...node, body: { ...node.body, nodes: bodyNodes } };
        changed = true;
      }
    }
    for (const x of node.inputs) {
      live.add(x);
      used.add(x);
    }
    kept.push(n);
  }
  return changed ? kept.reverse() : region.nodes;
}
