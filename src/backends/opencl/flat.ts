// Graph plumbing the OpenCL emitter shares in shape with the C one: fused groups
// inlined by renaming (a group's members become consecutive launches of the one
// enqueue sequence), the graph's I/O roles, every value's type. The C backend keeps
// its copies private to src/backends/c/emit.ts; these follow the same rules.
import { SsmcError } from '../../errors.ts';
import type { Graph, Region, Value } from '../../ir/graph.ts';
import type { TensorType } from '../../ir/types.ts';

/** A node after inlining fused groups: names refer to the enclosing graph's values. */
export type { FlatNode } from '../flatten.ts';
export { flatten } from '../flatten.ts';

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
