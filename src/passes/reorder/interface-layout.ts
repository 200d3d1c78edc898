// Moving data across a graph's interface when the graph keeps a value in permuted row
// order (a `perm` annotation on a graph input or output type: row i of the stored value
// is row perm[i] of the original). Runners importing or exporting states, and tests
// comparing a graph with its reordered form, go through these.
import type { Graph, Value } from '../../ir/graph.ts';
import type { TensorType } from '../../ir/types.ts';
import type { Perm } from './perm.ts';
import { compose, invert, isIdentity, permuteAxis } from './perm.ts';

type Data = Float32Array | Int32Array;

/** Data laid out as `from` describes, re-laid out as `to` describes (same shape). */
export function relayout<T extends Data>(data: T, from: TensorType, to: TensorType): T {
  const rows = rowMap(from.perm, to.perm);
  return rows ? permuteAxis(data, to.shape, 0, rows) : data;
}

/** Original row order -> the stored order of `t`. */
export function toStoredOrder<T extends Data>(data: T, t: TensorType): T {
  return t.perm && !isIdentity(t.perm) ? permuteAxis(data, t.shape, 0, t.perm) : data;
}

/** The stored order of `t` -> original row order. */
export function fromStoredOrder<T extends Data>(data: T, t: TensorType): T {
  return t.perm && !isIdentity(t.perm) ? permuteAxis(data, t.shape, 0, invert(t.perm)) : data;
}

/** Position i of `to` holds original row to[i], which sits at from⁻¹[to[i]]. */
function rowMap(from: Perm | undefined, to: Perm | undefined): Perm | undefined {
  if (!from && !to) return undefined;
  const n = (from ?? to)!.length;
  const f = from ?? Array.from({ length: n }, (_, i) => i);
  const t = to ?? Array.from({ length: n }, (_, i) => i);
  const m = compose(invert(f), t);
  return isIdentity(m) ? undefined : m;
}

/** Types of a graph's outputs, by name (inputs returned directly included). */
export function outputTypes(graph: Graph): Map<string, TensorType> {
  const all = new Map<string, Value>();
  for (const v of graph.inputs) all.set(v.name, v);
  for (const v of graph.weights) all.set(v.name, v);
  for (const n of graph.nodes) for (const v of n.outputs) all.set(v.name, v);
  return new Map(graph.outputs.map((name) => [name, all.get(name)!.type]));
}

/** Input values given in original row order, laid out as `graph` stores them. */
export function inputsToGraphOrder<T extends Data>(graph: Graph, inputs: Readonly<Record<string, T>>): Record<string, T> {
  const out: Record<string, T> = { ...inputs };
  for (const v of graph.inputs) if (out[v.name] !== undefined) out[v.name] = toStoredOrder(out[v.name], v.type);
  return out;
}

/** Output values as `graph` stores them, put back in original row order. */
export function outputsToOriginalOrder<T extends Data>(graph: Graph, outputs: Readonly<Record<string, T>>): Record<string, T> {
  const out: Record<string, T> = { ...outputs };
  for (const [name, t] of outputTypes(graph)) if (out[name] !== undefined) out[name] = fromStoredOrder(out[name], t);
  return out;
}
