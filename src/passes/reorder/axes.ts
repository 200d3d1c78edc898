// Which tensor axes must be permuted together. Every axis of every graph input, weight
// and top-level node output is a node of a union-find; each op contributes the
// relations its reference semantics implies (elementwise ops tie aligned axes, a linear
// ties its input features to the weight's columns and its outputs to the weight's rows,
// a split makes its input's last axis the concatenation of its parts, ...). A class of
// axes can take any permutation, applied to all of them at once, without changing what
// the graph computes, unless one of its axes is *pinned*: the op indexes it by position
// (time in a sequence, the shift register of a conv, token ids), it crosses the graph's
// interface, or C_n^4 groups run along it (permuting a sparse weight's columns would
// scatter its groups of 4).
import type { Graph, Node } from '../../ir/graph.ts';
import { walkNodes } from '../../ir/graph.ts';
import type { TensorType } from '../../ir/types.ts';

export interface AxisRef {
  readonly tensor: string;
  readonly axis: number;
}

/** The last axis of `parent` is the concatenation of the children's last axes. */
export interface SplitRecord {
  readonly parent: number;
  readonly children: readonly number[];
  readonly sizes: readonly number[];
}

/** A linear whose (sortable) weight's rows are not tied to its output: a place for a gather. */
export interface LinearSite {
  readonly node: Node;
  readonly weight: string;
  /** The axis id of the output's last axis. */
  readonly out: number;
}

export class AxisGraph {
  readonly refs: AxisRef[] = [];
  readonly lengths: number[] = [];
  readonly splits: SplitRecord[] = [];
  readonly sites: LinearSite[] = [];
  readonly #ids = new Map<string, number[]>();
  readonly #parent: number[] = [];
  readonly #pins: Set<number> = new Set();

  add(name: string, type: TensorType): void {
    const ids = type.shape.map((n, axis) => {
      const id = this.refs.length;
      this.refs.push({ tensor: name, axis });
      this.lengths.push(n);
      this.#parent.push(id);
      return id;
    });
    this.#ids.set(name, ids);
  }

  has(name: string): boolean {
    return this.#ids.has(name);
  }

  /** Axis ids of a tensor (empty for scalars and for unknown names). */
  axes(name: string): readonly number[] {
    return this.#ids.get(name) ?? [];
  }

  /** Axis `i` of a tensor; negative `i` counts from the end. */
  axis(name: string, i: number): number | undefined {
    const ids = this.axes(name);
    return ids[i < 0 ? ids.length + i : i];
  }

  find(a: number): number {
    let r = a;
    while (this.#parent[r] !== r) r = this.#parent[r];
    while (this.#parent[a] !== r) [a, this.#parent[a]] = [this.#parent[a], r];
    return r;
  }

  union(...axes: (number | undefined)[]): void {
    const ids = axes.filter((a): a is number => a !== undefined);
    for (let i = 1; i < ids.length; i++) {
      const [a, b] = [this.find(ids[0]), this.find(ids[i])];
      if (a !== b) this.#parent[Math.max(a, b)] = Math.min(a, b);
    }
  }

  pin(...axes: (number | undefined)[]): void {
    for (const a of axes) if (a !== undefined) this.#pins.add(a);
  }

  pinTensor(name: string, except: ReadonlySet<number> = new Set()): void {
    this.axes(name).forEach((id, i) => {
      if (!except.has(i)) this.#pins.add(id);
    });
  }

  /** Class roots that contain a pinned axis (before splits propagate pins). */
  pinnedRoots(): Set<number> {
    return new Set([...this.#pins].map((a) => this.find(a)));
  }
}

export interface AxisOptions {
  /** Weights whose rows are sorted on their own (their linears get sites instead of ties). */
  readonly sorted: ReadonlySet<string>;
  /** Let axis 0 of conv/scan state inputs and outputs take a permutation (recorded in their types). */
  readonly permuteState: boolean;
}

const STATE_OPS = new Set(['ssm.conv1d_step', 'ssm.conv1d', 'ssm.scan_step', 'ssm.scan']);
const UNARY = new Set(['ew.silu', 'ew.softplus', 'ew.exp', 'ew.neg']);
const BINARY = new Set(['ew.add', 'ew.sub', 'ew.mul']);

/** Values that carry recurrent state: operand 0 and result 1 of the state ops. */
export function stateValues(graph: Graph): Set<string> {
  const s = new Set<string>();
  for (const n of graph.nodes) {
    if (!STATE_OPS.has(n.op)) continue;
    if (n.inputs[0] !== undefined) s.add(n.inputs[0]);
    if (n.outputs[1] !== undefined) s.add(n.outputs[1].name);
  }
  return s;
}

export function buildAxisGraph(graph: Graph, opts: AxisOptions): AxisGraph {
  const g = new AxisGraph();
  const types = new Map<string, TensorType>();
  for (const v of [...graph.inputs, ...graph.weights]) types.set(v.name, v.type);
  for (const n of graph.nodes) for (const v of n.outputs) types.set(v.name, v.type);
  for (const [name, t] of types) g.add(name, t);

  for (const [name, t] of types) {
    // Integer tensors are token ids or gather indices: their positions mean something.
    if (t.dtype === 'i32') g.pinTensor(name);
    // C_n^4 groups run along a sparse weight's columns.
    if (t.cn4 && t.shape.length === 2) g.pin(g.axis(name, 1));
  }
  const states = opts.permuteState ? stateValues(graph) : new Set<string>();
  const keepRows = new Set([0]);
  for (const v of graph.inputs) g.pinTensor(v.name, states.has(v.name) ? keepRows : undefined);
  for (const name of graph.outputs) g.pinTensor(name, states.has(name) ? keepRows : undefined);
  // Nested regions are closed kernels this analysis does not look into.
  for (const n of graph.nodes) {
    if (!n.body) continue;
    for (const m of walkNodes(n.body)) for (const x of m.inputs) if (types.has(x)) g.pinTensor(x);
    for (const x of n.body.outputs) if (types.has(x)) g.pinTensor(x);
  }
  for (const n of graph.nodes) relate(g, n, opts.sorted);
  return g;
}

/** The ties and pins one node implies. */
function relate(g: AxisGraph, n: Node, sorted: ReadonlySet<string>): void {
  const ins = n.inputs;
  const outs = n.outputs.map((v) => v.name);
  const ax = (name: string | undefined, i: number) => (name === undefined ? undefined : g.axis(name, i));
  const rank = (name: string) => g.axes(name).length;
  /** Ties the leading (non-last) axes of two tensors of equal rank. */
  const leading = (a: string, b: string) => {
    for (let i = 0; i < rank(a) - 1 && i < rank(b) - 1; i++) g.union(ax(a, i), ax(b, i));
  };
  /** Ties `a`'s axes to the trailing axes of `out` (suffix broadcast). */
  const alignRight = (a: string, out: string) => {
    const off = rank(out) - rank(a);
    for (let i = 0; i < rank(a); i++) g.union(ax(a, i), ax(out, off + i));
  };
  const pinAll = () => [...ins, ...outs].forEach((x) => g.pinTensor(x));

  if (UNARY.has(n.op) || BINARY.has(n.op)) {
    for (const x of ins) alignRight(x, outs[0]);
    return;
  }
  switch (n.op) {
    case 'nn.linear': {
      const [x, w, b] = ins;
      const y = outs[0];
      g.union(ax(x, -1), ax(w, 1));
      leading(x, y);
      g.union(ax(w, 0), ax(b, 0));
      if (sorted.has(w)) g.sites.push({ node: n, weight: w, out: ax(y, -1)! });
      else g.union(ax(w, 0), ax(y, -1));
      return;
    }
    case 'nn.rms_norm': {
      const [x, w] = ins;
      alignRight(x, outs[0]);
      g.union(ax(x, -1), ax(w, 0));
      return;
    }
    case 'tensor.split': {
      const x = ins[0];
      for (const o of outs) leading(x, o);
      if (outs.length === 1) g.union(ax(x, -1), ax(outs[0], -1));
      else g.splits.push({ parent: ax(x, -1)!, children: outs.map((o) => ax(o, -1)!), sizes: outs.map((o) => g.lengths[ax(o, -1)!]) });
      return;
    }
    case 'ssm.conv1d_step':
    case 'ssm.conv1d': {
      const [state, x, w, b] = ins;
      const [y, next] = outs;
      g.union(ax(state, 0), ax(x, -1), ax(w, 0), ax(b, 0), ax(y, -1), ax(next, 0));
      // The second axis is a shift register over time.
      g.union(ax(state, 1), ax(w, 1), ax(next, 1));
      g.pin(ax(state, 1));
      if (n.op === 'ssm.conv1d') g.pin(ax(x, 0), ax(y, 0));
      return;
    }
    case 'ssm.scan_step':
    case 'ssm.scan': {
      const [state, x, dt, A, B, C] = ins;
      const [y, next] = outs;
      g.union(ax(state, 0), ax(x, -1), ax(dt, -1), ax(A, 0), ax(y, -1), ax(next, 0));
      g.union(ax(state, 1), ax(A, 1), ax(B, -1), ax(C, -1), ax(next, 1));
      if (n.op === 'ssm.scan') g.pin(ax(x, 0), ax(dt, 0), ax(B, 0), ax(C, 0), ax(y, 0));
      return;
    }
    case 'nn.embedding': {
      const [table, tokens] = ins;
      g.union(ax(table, 1), ax(outs[0], -1));
      g.pinTensor(tokens);
      g.pin(ax(table, 0));
      for (let i = 0; i < rank(outs[0]) - 1; i++) g.pin(ax(outs[0], i));
      return;
    }
    default:
      // Gathers, fused groups and ops this pass does not know: nothing moves through them.
      pinAll();
  }
}
