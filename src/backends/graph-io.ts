// The graph facts every code generator needs: which inputs are the token and the
// state, which outputs are the logits and the next state, and every value's type.
import { SsmcError } from '../errors.ts';
import type { Graph, Region, Value } from '../ir/graph.ts';
import type { TensorType } from '../ir/types.ts';

export interface GraphIO {
  readonly tokens: string;
  readonly state: readonly Value[];
  readonly logits: string;
  /** State output name -> index of its state input. */
  readonly stateOut: ReadonlyMap<string, number>;
}

export function classifyIO(g: Graph, backend: string): GraphIO {
  const ints = g.inputs.filter((v) => v.type.dtype === 'i32');
  if (ints.length !== 1) throw new SsmcError('E_UNSUPPORTED', `${backend} backend: the graph needs exactly one i32 (token) input, it has ${ints.length}`);
  const state = g.inputs.filter((v) => v.type.dtype !== 'i32');
  const logits = g.outputs.includes('logits') ? 'logits' : g.outputs[0];
  const rest = g.outputs.filter((n) => n !== logits);
  const stateOut = new Map<string, number>();
  state.forEach((s, i) => {
    const name = rest.includes(`${s.name}.next`) ? `${s.name}.next` : rest[i];
    if (name === undefined) throw new SsmcError('E_UNSUPPORTED', `${backend} backend: no output carries the next value of state %${s.name}`);
    stateOut.set(name, i);
  });
  if (stateOut.size !== rest.length) throw new SsmcError('E_UNSUPPORTED', `${backend} backend: outputs ${rest.filter((n) => !stateOut.has(n)).map((n) => `%${n}`).join(', ')} are neither logits nor next state`);
  return { tokens: ints[0].name, state, logits, stateOut };
}

/** The state tensors in snapshot order with their sizes, and their total (a manifest's `state`, `stateFloats`). */
export function stateLayout(gio: GraphIO): { state: Array<{ name: string; size: number }>; stateFloats: number } {
  const state = gio.state.map((s) => ({ name: s.name, size: s.type.shape.reduce((a, b) => a * b, 1) }));
  return { state, stateFloats: state.reduce((a, s) => a + s.size, 0) };
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
