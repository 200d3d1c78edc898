// The builder API for user code and frontends: declare inputs and weights, add ops
// (output types are inferred by the registry), mark outputs, build a verified graph.
import { SsmcError } from '../errors.ts';
import type { Attrs, Graph, Node, Region, Value } from './graph.ts';
import { makeGraph } from './graph.ts';
import { getOp, OpTypeError } from './op-registry.ts';
import type { TensorType } from './types.ts';
import { assertValid } from './verifier.ts';
import type { WeightArray } from './weights.ts';
import { WeightStore } from './weights.ts';
import './ops/index.ts';

export type ValueRef = Value | string;

export interface OpOptions {
  /** Name of the single output, or a prefix `p` giving `p.0`, `p.1`, ... */
  name?: string;
  /** Explicit names for every output. */
  names?: readonly string[];
  body?: Region;
}

export class GraphBuilder {
  readonly name: string;
  attrs: Attrs;
  readonly #inputs: Value[] = [];
  readonly #weights: Value[] = [];
  readonly #data: [string, WeightArray][] = [];
  readonly #nodes: Node[] = [];
  readonly #outputs: string[] = [];
  readonly #types = new Map<string, TensorType>();
  #counter = 0;

  constructor(name: string, attrs: Attrs = {}) {
    this.name = name;
    this.attrs = attrs;
  }

  input(name: string, type: TensorType): Value {
    const v = this.#define(name, type);
    this.#inputs.push(v);
    return v;
  }

  weight(name: string, type: TensorType, data: WeightArray): Value {
    const v = this.#define(name, type);
    this.#weights.push(v);
    this.#data.push([name, data]);
    return v;
  }

  typeOf(ref: ValueRef): TensorType {
    const name = typeof ref === 'string' ? ref : ref.name;
    const t = this.#types.get(name);
    if (!t) throw new SsmcError('E_ARG', `builder: unknown value %${name}`);
    return t;
  }

  /** Adds a node; returns its outputs with inferred types. */
  op(kind: string, inputs: readonly ValueRef[], attrs: Attrs = {}, opts: OpOptions = {}): Value[] {
    const def = getOp(kind);
    const names = inputs.map((r) => (typeof r === 'string' ? r : r.name));
    let types: TensorType[];
    try {
      types = def.infer(names.map((n) => this.typeOf(n)), attrs, opts.body);
    } catch (e) {
      if (e instanceof OpTypeError) throw new SsmcError('E_TYPE', `${kind}: ${e.message}`, { what: opts.name ?? opts.names?.[0] });
      throw e;
    }
    const outNames = types.map((_, i) =>
      opts.names?.[i] ?? (opts.name !== undefined ? (types.length === 1 ? opts.name : `${opts.name}.${i}`) : this.fresh()),
    );
    const outputs = types.map((t, i) => this.#define(outNames[i], t));
    this.#nodes.push({ op: kind, inputs: names, outputs, attrs, ...(opts.body ? { body: opts.body } : {}) });
    return outputs;
  }

  /** `op` for single-output ops. */
  op1(kind: string, inputs: readonly ValueRef[], attrs: Attrs = {}, name?: string): Value {
    const outs = this.op(kind, inputs, attrs, { name });
    if (outs.length !== 1) throw new SsmcError('E_ARG', `${kind} has ${outs.length} outputs; use op()`);
    return outs[0];
  }

  output(...refs: ValueRef[]): void {
    for (const r of refs) this.#outputs.push(typeof r === 'string' ? r : r.name);
  }

  /** A fresh numeric name. */
  fresh(): string {
    while (this.#types.has(String(this.#counter))) this.#counter++;
    return String(this.#counter++);
  }

  build(): Graph {
    const g = makeGraph({
      name: this.name,
      attrs: this.attrs,
      inputs: this.#inputs,
      weights: this.#weights,
      nodes: this.#nodes,
      outputs: this.#outputs,
      weightData: new WeightStore(this.#data),
    });
    assertValid(g);
    return g;
  }

  #define(name: string, type: TensorType): Value {
    if (this.#types.has(name)) throw new SsmcError('E_ARG', `builder: value %${name} is already defined`);
    this.#types.set(name, type);
    return { name, type };
  }
}
