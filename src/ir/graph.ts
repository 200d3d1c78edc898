// The graph: inputs, weight declarations, nodes in topological order, outputs.
// Graphs are deeply frozen (immer); weight data lives in a WeightStore beside them,
// referenced by name, never inline.
import { freeze } from 'immer';
import type { TensorType } from './types.ts';
import type { WeightStore } from './weights.ts';

/** JSON-like attribute values. */
export type Attr = number | string | boolean | readonly Attr[];
export type Attrs = Readonly<Record<string, Attr>>;

/** An SSA value. Names are unique in a graph, regions included. */
export interface Value {
  readonly name: string;
  readonly type: TensorType;
}

/** A sub-graph owned by a node (e.g. the body of a fused group). */
export interface Region {
  /** Parameters bound, in order, to the owning node's inputs. */
  readonly inputs: readonly Value[];
  readonly nodes: readonly Node[];
  /** Names of values defined in the region (or its parameters) that it yields. */
  readonly outputs: readonly string[];
}

export interface Node {
  /** Dotted op kind, e.g. `nn.linear`; resolved in the op registry. */
  readonly op: string;
  /** Names of the values consumed: graph inputs, weights, or earlier node outputs. */
  readonly inputs: readonly string[];
  readonly outputs: readonly Value[];
  readonly attrs: Attrs;
  readonly body?: Region;
}

export interface Graph extends Region {
  readonly name: string;
  readonly attrs: Attrs;
  /** Weight declarations; the data is in `weightData`. */
  readonly weights: readonly Value[];
  readonly weightData: WeightStore;
}

export function makeGraph(g: Graph): Graph {
  // WeightStore is a class instance, which immer does not descend into: typed arrays
  // cannot be frozen, and are treated as immutable by convention instead.
  return freeze({ ...g }, true);
}

/** Nodes of a graph and of all nested regions, outer first. */
export function* walkNodes(region: Region): Generator<Node> {
  for (const n of region.nodes) {
    yield n;
    if (n.body) yield* walkNodes(n.body);
  }
}

/** A readable handle for a node in diagnostics: its op and first output. */
export function nodeLabel(n: Node): string {
  const out = n.outputs[0]?.name;
  return out !== undefined ? `%${out} = ${n.op}` : n.op;
}

export function attrEqual(a: Attr | undefined, b: Attr | undefined): boolean {
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => attrEqual(x, b[i]));
  return Object.is(a, b);
}

export function attrsEqual(a: Attrs, b: Attrs): boolean {
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  return ka.length === kb.length && ka.every((k) => k in b && attrEqual(a[k], b[k]));
}
