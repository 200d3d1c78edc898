// Inlining fused groups for code generators: a fused.group's body becomes a run of
// plain nodes whose names refer to the enclosing graph's values, so a backend emits
// one sequence per graph and decides itself which nodes share a kernel.
import type { Node, Region, Value } from '../ir/graph.ts';

/** A node after inlining fused groups: names refer to the enclosing graph's values. */
export interface FlatNode {
  readonly op: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly Value[];
  readonly node: Node;
}

export function flatten(region: Region, rename: ReadonlyMap<string, string>, out: FlatNode[]): void {
  const r = (n: string) => rename.get(n) ?? n;
  for (const node of region.nodes) {
    const inputs = node.inputs.map(r);
    if (node.body) {
      const body = node.body;
      const inner = new Map(rename);
      body.inputs.forEach((p, i) => inner.set(p.name, inputs[i]));
      const params = new Set(body.inputs.map((p) => p.name));
      const copies: Array<[string, Value]> = [];
      const claimed = new Set<string>();
      body.outputs.forEach((bo, i) => {
        // A yielded parameter, a value yielded twice, or one not computed in the body is copied.
        if (params.has(bo) || claimed.has(bo) || !body.nodes.some((n) => n.outputs.some((v) => v.name === bo))) copies.push([bo, node.outputs[i]]);
        else {
          claimed.add(bo);
          inner.set(bo, node.outputs[i].name);
        }
      });
      flatten(body, inner, out);
      for (const [src, dst] of copies) out.push({ op: 'copy', inputs: [inner.get(src) ?? src], outputs: [dst], node: { op: 'copy', inputs: [src], outputs: [dst], attrs: {} } });
      continue;
    }
    out.push({ op: node.op, inputs, outputs: node.outputs.map((v) => ({ name: r(v.name), type: v.type })), node });
  }
}
