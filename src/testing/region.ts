// Builds a region (the body of a fused.group) with the GraphBuilder, so that body
// types are inferred and the body is verified on its own like any graph.
import type { ValueRef } from '../ir/builder.ts';
import { GraphBuilder } from '../ir/builder.ts';
import type { Region, Value } from '../ir/graph.ts';
import type { WeightArray } from '../ir/weights.ts';

/**
 * `params` become the region's parameters (the builder's inputs); `weights` are the
 * enclosing graph's weights the body may use (more can be declared on the builder).
 * `body` adds nodes and returns what the region yields. Name every body value
 * explicitly: names are unique across the whole graph, and the builder's own fresh
 * names (`0`, `1`, ...) would collide with the enclosing graph's.
 */
export function buildRegion(
  params: readonly Value[],
  body: (b: GraphBuilder, params: Value[]) => readonly ValueRef[],
  weights: Iterable<readonly [Value, WeightArray]> = [],
): Region {
  const b = new GraphBuilder('region');
  const ps = params.map((p) => b.input(p.name, p.type));
  for (const [w, data] of weights) b.weight(w.name, w.type, data);
  b.output(...body(b, ps));
  const g = b.build();
  return { inputs: g.inputs, nodes: g.nodes, outputs: g.outputs };
}
