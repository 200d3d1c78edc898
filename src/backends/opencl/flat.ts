// Graph plumbing the OpenCL emitter shares in shape with the C one: fused groups
// inlined by renaming (a group's members become consecutive launches of the one
// enqueue sequence), the graph's I/O roles, every value's type. The C backend keeps
// its copies private to src/backends/c/emit.ts; these follow the same rules.
import { SsmcError } from '../../errors.ts';
import type { Graph, Node, Region, Value } from '../../ir/graph.ts';
import type { TensorType } from '../../ir/types.ts';

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

export interface GraphIO {
  readonly tokens: string;
  readonly state: readonly Value[];
  readonly logits: string;
  /** State output name -> index of its state input. */
  readonly stateOut: ReadonlyMap<string, number>;
}

export function classifyIO(g: Graph): GraphIO {
  const ints = g.inputs.filter((v) => v.type.dtype === 'i32');
  if (ints.length !== 1) throw new SsmcError('E_UNSUPPORTED', `OpenCL backend: the graph needs exactly one i32 (token) input, it has ${ints.length}`);
  const state = g.inputs.filter((v) => v.type.dtype !== 'i32');
  const logits = g.outputs.includes('logits') ? 'logits' : g.outputs[0];
  const rest = g.outputs.filter((n) => n !== logits);
  const stateOut = new Map<string, number>();
  state.forEach((s, i) => {
    const name = rest.includes(`${s.name}.next`) ? `${s.name}.next` : rest[i];
    if (name === undefined) throw new SsmcError('E_UNSUPPORTED', `OpenCL backend: no output carries the next value of state %${s.name}`);
    stateOut.set(name, i);
  });
  if (stateOut.size !== rest.length) throw new SsmcError('E_UNSUPPORTED', `OpenCL backend: outputs ${rest.filter((n) => !stateOut.has(n)).map((n) => `%${n}`).join(', ')} are neither logits nor next state`);
  return { tokens: ints[0].name, state, logits, stateOut };
}

/** Every value's type by name (inputs, weights, node outputs, fused-body parameters). */
export function valueTypes(g: Graph): Map<string, TensorType> {
  const m = new Map<string, TensorType>();
  for (const v of [...g.inputs, ...g.weights]) m.set(v.name, v.type);
  const walk = (r: Region) => {
    for (const n of r.nodes) {
      for (const v of n.outputs) m.set(v.name, v.type);
      if (n.body) {
        for (const p of n.body.inputs) m.set(p.name, p.type);
        walk(n.body);
      }
    }
  };
  walk(g);
  return m;
}
