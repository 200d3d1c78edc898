// The `calibration.compile` hook on the native helper's graph executor (native/graph.c):
// a sliced graph becomes a small program (values, weights, nodes) run window by window
// from a zero state. Besides `run` (one call, any inputs) it offers `runWindows`, which
// the Calibrator uses in prefill mode: all windows in one call, reduced natively to what
// the Calibrator wants (values, H = XᵀX, next-token loss, KL, log-probabilities), so
// activations and logits never travel back to Node. Graphs with ops the executor lacks
// fall back to the interpreter.
import { unlinkSync, writeFileSync } from 'node:fs';
import type { Graph, Value } from '../ir/graph.ts';
import { floatAttr, intsAttr } from '../ir/op-registry.ts';
import { numel } from '../ir/types.ts';
import type { WeightArray } from '../ir/weights.ts';
import { decodeBf16Array, decodeF16Array } from '../util/half.ts';
import type { Array32, CompiledGraph, LayerStats, WindowRequest, WindowResult } from '../passes/analysis/calibration.ts';
import { interpreterCompile } from '../passes/analysis/calibration.ts';
import { SsmcError } from '../errors.ts';
import type { NativeSession } from './session.ts';

/** Ops native/graph.c implements (sequence and step forms). */
export const NATIVE_OPS: ReadonlySet<string> = new Set([
  'nn.embedding', 'nn.rms_norm', 'nn.linear', 'tensor.split', 'ssm.conv1d', 'ssm.conv1d_step',
  'ew.silu', 'ew.softplus', 'ew.exp', 'ew.neg', 'ew.add', 'ew.sub', 'ew.mul', 'ssm.scan', 'ssm.scan_step',
]);

function supported(g: Graph): boolean {
  const decls = new Map(g.weights.map((w) => [w.name, w]));
  for (const n of g.nodes) {
    if (!NATIVE_OPS.has(n.op) || n.body) return false;
    for (const x of n.inputs) {
      const w = decls.get(x);
      if (w && !['f32', 'f16', 'bf16'].includes(w.type.dtype)) return false;
    }
    if (n.op === 'ssm.scan' || n.op === 'ssm.scan_step') {
      const A = decls.get(n.inputs[3]);
      if (!A || A.type.shape[1] > 256) return false;
    }
  }
  return g.inputs.every((v) => v.type.shape.length <= 4) && g.nodes.every((n) => n.outputs.every((o) => o.type.shape.length <= 4));
}

const decoded = new WeakMap<object, Float32Array>();

function weightF32(a: WeightArray, dtype: string): Float32Array {
  if (dtype === 'f32') return a as Float32Array;
  let d = decoded.get(a);
  if (!d) {
    d = dtype === 'f16' ? decodeF16Array(a as Uint16Array) : decodeBf16Array(a as Uint16Array);
    decoded.set(a, d);
  }
  return d;
}

/** `compile` for the calibration service: native when the graph allows, else the interpreter. */
export function nativeCompile(session: NativeSession): (g: Graph) => CompiledGraph {
  return (g) => (supported(g) ? new NativeGraph(session, g) : interpreterCompile(g));
}

class NativeGraph implements CompiledGraph {
  readonly #s: NativeSession;
  readonly #g: Graph;
  readonly #ids = new Map<string, number>();
  readonly #values: Value[] = [];
  readonly #lines: string[] = [];

  constructor(session: NativeSession, g: Graph) {
    this.#s = session;
    this.#g = g;
    const add = (v: Value) => {
      if (this.#ids.has(v.name)) return;
      this.#ids.set(v.name, this.#values.length);
      this.#values.push(v);
    };
    for (const v of g.inputs) add(v);
    const decls = new Map(g.weights.map((w) => [w.name, w]));
    const used = new Set<string>();
    for (const n of g.nodes) {
      for (const x of n.inputs) {
        const w = decls.get(x);
        if (w && !this.#ids.has(x)) {
          add(w);
          used.add(x);
        }
      }
      for (const o of n.outputs) add(o);
    }
    for (const v of this.#values) {
      const shape = v.type.shape;
      this.#lines.push(`value ${this.#ids.get(v.name)} ${v.type.dtype === 'i32' ? 1 : 0} ${numel(shape)} ${shape.length} ${shape.join(' ')}`);
    }
    for (const name of used) {
      const w = decls.get(name)!;
      this.#lines.push(`weight ${this.#ids.get(name)} ${session.writeCached(weightF32(g.weightData.get(name), w.type.dtype), g.weightData.get(name))}`);
    }
    for (const n of g.nodes) {
      const attrs = n.op === 'nn.rms_norm' ? [floatAttr(n.attrs, 'eps')] : n.op === 'tensor.split' ? intsAttr(n.attrs, 'sizes') : [];
      const id = (x: string) => {
        const i = this.#ids.get(x);
        if (i === undefined) throw new SsmcError('E_INTERNAL', `native graph: value %${x} is not defined`);
        return i;
      };
      this.#lines.push(`node ${n.op} ${n.inputs.length} ${n.inputs.map(id).join(' ')} ${n.outputs.length} ${n.outputs.map((o) => id(o.name)).join(' ')} ${attrs.length} ${attrs.map((a) => a.toPrecision(17)).join(' ')}`);
    }
  }

  #input(name: string, data: Array32, cached: boolean): string {
    const v = this.#values[this.#ids.get(name)!];
    if ((v.type.dtype === 'i32') !== data instanceof Int32Array) throw new SsmcError('E_ARG', `input %${name}: ${v.type.dtype} expected`);
    return `input ${this.#ids.get(name)} ${cached ? this.#s.writeCached(data) : this.#s.write('in', data)}`;
  }

  #exec(runs: number, inputLines: string[], outLines: string[], tag = 'run'): void {
    const prog = this.#s.path('prog');
    writeFileSync(prog, ['ssmcprog 1', `runs ${runs}`, ...this.#lines, ...inputLines, ...outLines, 'end', ''].join('\n'));
    try {
      this.#s.call('run', { prog }, '', tag);
    } finally {
      unlinkSync(prog);
    }
  }

  run(inputs: Readonly<Record<string, Array32>>): Record<string, Array32> {
    const lines = this.#g.inputs.map((v) => {
      const d = inputs[v.name];
      if (d === undefined) throw new SsmcError('E_ARG', `missing graph input %${v.name}`);
      if (d.length !== numel(v.type.shape)) throw new SsmcError('E_SHAPE', `input %${v.name} needs ${numel(v.type.shape)} values, got ${d.length}`);
      return this.#input(v.name, d, false);
    });
    const outs = this.#g.outputs.map((name) => ({ name, path: this.#s.path('out') }));
    this.#exec(1, lines, outs.map((o) => `out values ${this.#ids.get(o.name)} ${o.path}`));
    const r: Record<string, Array32> = {};
    for (const o of outs) r[o.name] = this.#s.readF32(o.path, numel(this.#values[this.#ids.get(o.name)!].type.shape));
    return r;
  }

  /** H, the norms and the row count as `out gram` writes them. */
  #gram(path: string, K: number): LayerStats {
    const all = this.#s.readF64(path, K * K + K + 1);
    return { K, H: all.subarray(0, K * K), norms: all.slice(K * K, K * K + K), rows: all[K * K + K] };
  }

  runWindows(inputs: Readonly<Record<string, Array32>>, runs: number, req: WindowRequest): WindowResult {
    const lines: string[] = [];
    for (const v of this.#g.inputs) {
      const d = inputs[v.name];
      if (d === undefined) lines.push(`zero ${this.#ids.get(v.name)}`);
      else {
        if (d.length < runs * numel(v.type.shape)) throw new SsmcError('E_SHAPE', `input %${v.name}: ${d.length} values for ${runs} runs`);
        // Whole arrays (anchors, tokens) are reused across calls; cut views are not.
        lines.push(this.#input(v.name, d, d.byteLength === d.buffer.byteLength));
      }
    }
    const id = this.#ids.get(req.name);
    if (id === undefined) throw new SsmcError('E_INTERNAL', `native graph: no value %${req.name}`);
    const v = this.#values[id];
    const width = v.type.shape[v.type.shape.length - 1];
    const out = req.kind === 'values' ? this.#s.keepPath() : this.#s.path('out');
    switch (req.kind) {
      case 'values': {
        const gram = req.gram ? this.#s.path('out') : undefined;
        this.#exec(runs, lines, [`out values ${id} ${out}`, ...(gram ? [`out gram ${id} ${gram}`] : [])], 'run:values');
        // Kept as the array's file: an anchor or a layer input is sent back as input next.
        const values = this.#s.adoptF32(out, runs * numel(v.type.shape));
        return gram ? { values, stats: this.#gram(gram, width) } : { values };
      }
      case 'anchors': {
        const outs = req.names.map((name) => {
          const i = this.#ids.get(name);
          if (i === undefined) throw new SsmcError('E_INTERNAL', `native graph: no value %${name}`);
          return { name, id: i, path: this.#s.keepPath() };
        });
        this.#exec(runs, lines, outs.map((o) => `out values ${o.id} ${o.path}`), 'run:values');
        const anchors: Record<string, Float32Array> = {};
        for (const o of outs) anchors[o.name] = this.#s.adoptF32(o.path, runs * numel(this.#values[o.id].type.shape));
        return { anchors };
      }
      case 'gram':
        this.#exec(runs, lines, [`out gram ${id} ${out}`], 'run:gram');
        return { stats: this.#gram(out, width) };
      case 'nll':
      case 'kl': {
        const aux = req.kind === 'nll' ? this.#s.writeCached(req.tokens) : this.#s.writeCached(req.ref);
        this.#exec(runs, lines, [`out ${req.kind} ${id} ${aux} ${req.window} ${out}`], `run:${req.kind}`);
        const [sum, count] = this.#s.readF64(out, 2);
        return { sum, count };
      }
      case 'logprobs': {
        this.#exec(runs, lines, [`out logprobs ${id} ${req.window} ${out}`], 'run:logprobs');
        const L = req.window;
        const V = numel(v.type.shape) / L;
        return { logprobs: this.#s.readF32(out, runs * (L - 1) * V) };
      }
    }
  }
}
