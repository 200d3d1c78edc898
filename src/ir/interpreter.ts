// The interpreter defines what a graph means. Each op's `evaluate` is its reference
// semantics; this file only schedules them: nodes in order, intermediates freed after
// their last use, weights decoded to f32 once per interpreter.
import { SsmcError } from '../errors.ts';
import { decodeBf16Array, decodeF16Array } from '../util/half.ts';
import type { Graph, Node, Region, Value } from './graph.ts';
import type { EvalContext, OpDef } from './op-registry.ts';
import { getOp, OpTypeError } from './op-registry.ts';
import type { Tensor } from './tensor.ts';
import { formatTypeBrief, numel } from './types.ts';
import type { WeightArray } from './weights.ts';
import './ops/index.ts';

export type InputValue = Tensor | ArrayLike<number>;

export interface RunOptions {
  /**
   * Called after each node with its input and output tensors (calibration taps,
   * debugging). Must not write into them.
   */
  readonly observe?: (node: Node, inputs: readonly Tensor[], outputs: readonly Tensor[]) => void;
}

interface Step {
  readonly def: OpDef;
  readonly node: Graph['nodes'][number];
  /** Names whose last use is this step (freed after it). */
  readonly frees: readonly string[];
}

export class Interpreter implements EvalContext {
  readonly graph: Graph;
  readonly #weights = new Map<string, Tensor>();
  readonly #plans = new WeakMap<Region, Step[]>();
  #decls?: Map<string, Value>;
  #observe?: RunOptions['observe'];

  constructor(graph: Graph) {
    this.graph = graph;
  }

  /** Runs the graph. Inputs by name; returns outputs by name. */
  run(inputs: Readonly<Record<string, InputValue>>, opts: RunOptions = {}): Record<string, Tensor> {
    const args = this.graph.inputs.map((v) => {
      const given = inputs[v.name];
      if (given === undefined) throw new SsmcError('E_ARG', `missing graph input %${v.name} (${formatTypeBrief(v.type)})`);
      return toTensor(v, given);
    });
    this.#observe = opts.observe;
    let outs: Tensor[];
    try {
      outs = this.runRegion(this.graph, args);
    } finally {
      this.#observe = undefined;
    }
    const result: Record<string, Tensor> = {};
    this.graph.outputs.forEach((name, i) => (result[name] = outs[i]));
    return result;
  }

  runRegion(region: Region, args: readonly Tensor[]): Tensor[] {
    const env = new Map<string, Tensor>();
    region.inputs.forEach((p, i) => env.set(p.name, args[i]));
    for (const step of this.#plan(region)) {
      const { node, def } = step;
      const ins = node.inputs.map((n) => env.get(n) ?? this.#weight(n));
      let outs: Tensor[];
      try {
        outs = def.evaluate(ins, node.attrs, node.outputs.map((o) => o.type), this, node.body);
      } catch (e) {
        if (e instanceof OpTypeError) throw new SsmcError('E_EVAL', e.message, { what: `%${node.outputs[0]?.name} = ${node.op}` });
        throw e;
      }
      node.outputs.forEach((o, i) => env.set(o.name, outs[i]));
      this.#observe?.(node, ins, outs);
      for (const n of step.frees) env.delete(n);
    }
    return region.outputs.map((n) => env.get(n) ?? this.#weight(n));
  }

  #plan(region: Region): Step[] {
    let plan = this.#plans.get(region);
    if (plan) return plan;
    const last = new Map<string, number>();
    region.nodes.forEach((n, i) => n.inputs.forEach((name) => last.set(name, i)));
    for (const name of region.outputs) last.set(name, Infinity);
    const frees: string[][] = region.nodes.map(() => []);
    for (const [name, i] of last) if (i !== Infinity) frees[i].push(name);
    plan = region.nodes.map((node, i) => ({ node, def: getOp(node.op), frees: frees[i] }));
    this.#plans.set(region, plan);
    return plan;
  }

  #weight(name: string): Tensor {
    let t = this.#weights.get(name);
    if (t) return t;
    this.#decls ??= new Map(this.graph.weights.map((w) => [w.name, w]));
    const decl = this.#decls.get(name);
    if (!decl) throw new SsmcError('E_EVAL', `value %${name} is not defined`);
    t = { type: decl.type, data: weightToF32(this.graph.weightData.get(name), decl.type.dtype) };
    this.#weights.set(name, t);
    return t;
  }
}

function weightToF32(a: WeightArray, dtype: string): Float32Array | Int32Array {
  if (dtype === 'f16') return decodeF16Array(a as Uint16Array);
  if (dtype === 'bf16') return decodeBf16Array(a as Uint16Array);
  return a as Float32Array | Int32Array;
}

function toTensor(v: Value, given: InputValue): Tensor {
  const n = numel(v.type.shape);
  const data = 'type' in given && 'data' in given ? (given as Tensor).data : (given as ArrayLike<number>);
  if (data.length !== n) throw new SsmcError('E_SHAPE', `input %${v.name} needs ${n} values (${formatTypeBrief(v.type)}), got ${data.length}`);
  if (v.type.dtype === 'i32') {
    if (data instanceof Int32Array) return { type: v.type, data };
    const out = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      if (!Number.isInteger(data[i])) throw new SsmcError('E_ARG', `input %${v.name} must hold integers, got ${data[i]} at ${i}`);
      out[i] = data[i];
    }
    return { type: v.type, data: out };
  }
  return { type: v.type, data: data instanceof Float32Array ? data : Float32Array.from(data) };
}

/** One-shot convenience: `new Interpreter(graph).run(inputs)`. */
export function interpret(graph: Graph, inputs: Readonly<Record<string, InputValue>>, opts?: RunOptions): Record<string, Tensor> {
  return new Interpreter(graph).run(inputs, opts);
}
