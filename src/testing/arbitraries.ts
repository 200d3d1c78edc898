// fast-check arbitraries for IR tests and users' property tests: attribute values,
// tensor types, and random *valid* graphs with weight data and matching inputs.
// A graph is drawn as a plan of plain choices and then built with the GraphBuilder
// (so types are inferred): plans shrink by dropping steps and lowering choices toward
// 0, which means "the first option, no annotation, a fresh input".
import fc from 'fast-check';
import { GraphBuilder } from '../ir/builder.ts';
import type { Attr, Attrs, Graph, Value } from '../ir/graph.ts';
import { makeGraph } from '../ir/graph.ts';
import type { DType, MemoryKind, TensorType } from '../ir/types.ts';
import { DTYPES, MEMORY_KINDS, numel, shapeEqual, tensorType } from '../ir/types.ts';
import { assertValid } from '../ir/verifier.ts';
import type { WeightArray } from '../ir/weights.ts';
import { encodeBf16Array, encodeF16Array } from '../util/half.ts';
import { Prng } from '../util/prng.ts';
import { buildRegion } from './region.ts';
import { isSuffix } from '../ir/ops/ew.ts';

// --- names, attributes, types --------------------------------------------------------

/** A valid value, weight or graph name (`[A-Za-z0-9_][A-Za-z0-9_.]*`). */
export function arbName(): fc.Arbitrary<string> {
  return fc.stringMatching(/^[A-Za-z0-9_][A-Za-z0-9_.]{0,11}$/);
}

/** Strings that stress escaping: printable, any code point, and lone UTF-16 surrogates. */
function arbText(maxLength = 8): fc.Arbitrary<string> {
  const char16 = fc.nat({ max: 0xffff }).map((c) => String.fromCharCode(c));
  return fc.oneof(fc.string({ maxLength }), fc.string({ unit: 'binary', maxLength }), fc.string({ unit: char16, maxLength }));
}

/** Any attribute value: numbers (incl. -0, NaN, ±Infinity), strings, booleans, nested lists. */
export function arbAttrValue(depth = 2): fc.Arbitrary<Attr> {
  const leaf: fc.Arbitrary<Attr> = fc.oneof(fc.integer(), fc.double(), fc.constantFrom(-0, NaN, Infinity, -Infinity, 1e21, 1e-7), arbText(), fc.boolean());
  if (depth <= 0) return leaf;
  return fc.oneof({ weight: 3, arbitrary: leaf }, { weight: 1, arbitrary: fc.array(arbAttrValue(depth - 1), { maxLength: 3 }) });
}

/** Attribute maps with identifier keys and arbitrary (quoted when printed) keys. */
export function arbAttrs(maxKeys = 4): fc.Arbitrary<Attrs> {
  const key = fc.oneof(fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,7}$/), arbText(6));
  return fc
    .uniqueArray(fc.tuple(key, arbAttrValue()), { maxLength: maxKeys, selector: ([k]) => k })
    .map((entries) => Object.fromEntries(entries)); // own properties even for `__proto__`
}

/** Permutations of 0..n-1, often made of a few ascending blocks (so they print as runs). */
export function arbPermutation(n: number): fc.Arbitrary<number[]> {
  const ids = Array.from({ length: n }, (_, i) => i);
  const blocks = fc.uniqueArray(fc.integer({ min: 1, max: Math.max(1, n - 1) }), { maxLength: 3 }).chain((cuts) => {
    const edges = [0, ...cuts.filter((c) => c < n).sort((a, b) => a - b), n];
    const chunks = edges.slice(1).map((e, i) => ids.slice(edges[i], e));
    return fc.shuffledSubarray(chunks, { minLength: chunks.length, maxLength: chunks.length }).map((cs) => cs.flat());
  });
  return fc.oneof(blocks, fc.shuffledSubarray(ids, { minLength: n, maxLength: n }));
}

/** Per-row C_n^4 counts (0..4), drawn as a few runs so they print run-length encoded. */
export function arbCn4(rows: number): fc.Arbitrary<number[]> {
  const run = fc.tuple(fc.integer({ min: 0, max: 4 }), fc.integer({ min: 1, max: Math.max(1, rows) }));
  return fc.array(run, { minLength: 1, maxLength: 4 }).map((runs) => {
    const out = runs.flatMap(([n, count]) => Array<number>(count).fill(n));
    while (out.length < rows) out.push(out[out.length - 1]);
    return out.slice(0, rows);
  });
}

export interface TensorTypeOptions {
  readonly dtypes?: readonly DType[];
  /** Highest rank (default 3). */
  readonly maxRank?: number;
  /** Largest dimension (default 16); dimensions may be 0. */
  readonly maxDim?: number;
  /** Draw memory/cn4/perm annotations, consistent with the shape (default true). */
  readonly annotations?: boolean;
}

export function arbTensorType(opts: TensorTypeOptions = {}): fc.Arbitrary<TensorType> {
  const { dtypes = DTYPES, maxRank = 3, maxDim = 16, annotations = true } = opts;
  const base = fc.tuple(fc.constantFrom(...dtypes), fc.array(fc.integer({ min: 0, max: maxDim }), { maxLength: maxRank }));
  if (!annotations) return base.map(([dtype, shape]) => tensorType(dtype, shape));
  const none = fc.constant(undefined);
  return base.chain(([dtype, shape]) =>
    fc
      .record({
        memory: fc.option(fc.constantFrom(...MEMORY_KINDS), { nil: undefined }),
        cn4: shape.length === 2 ? fc.option(arbCn4(shape[0]), { nil: undefined }) : none,
        perm: shape.length >= 1 ? fc.option(arbPermutation(shape[0]), { nil: undefined }) : none,
      })
      .map((ann) => tensorType(dtype, shape, definedOnly(ann))),
  );
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

// --- graphs ----------------------------------------------------------------------------

/** One top-level node each; `unary`/`binary` cover every ew op, `fused` is a fused.group. */
export const GRAPH_STEP_KINDS = [
  'embedding', 'linear', 'rms_norm', 'unary', 'binary', 'split', 'conv1d_step', 'conv1d', 'scan_step', 'scan', 'fused',
] as const;
export type GraphStepKind = (typeof GRAPH_STEP_KINDS)[number];

export interface GraphOptions {
  /** Most top-level nodes (default 10). */
  readonly maxNodes?: number;
  /** Largest dimension (default 16). */
  readonly maxDim?: number;
  /** Node kinds to draw from (default: all of GRAPH_STEP_KINDS). */
  readonly kinds?: readonly GraphStepKind[];
}

export interface GraphWithInputs {
  readonly graph: Graph;
  /** A value for every graph input: floats in [-1, 1], tokens inside every vocabulary they index. */
  readonly inputs: Record<string, Float32Array | Int32Array>;
}

/** Random valid graphs: every op kind, f32/f16/bf16 weight data, annotations, attributes. */
export function arbGraph(opts: GraphOptions = {}): fc.Arbitrary<Graph> {
  return arbPlan(opts).map((plan) => new GraphGen(plan, opts.maxDim ?? 16).build());
}

export function arbGraphWithInputs(opts: GraphOptions = {}): fc.Arbitrary<GraphWithInputs> {
  return arbPlan(opts).map((plan) => {
    const gen = new GraphGen(plan, opts.maxDim ?? 16);
    const graph = gen.build();
    const rng = new Prng(plan.seed, 'inputs');
    const inputs: Record<string, Float32Array | Int32Array> = {};
    for (const v of graph.inputs) {
      const n = numel(v.type.shape);
      const limit = gen.tokenLimits.get(v.name);
      inputs[v.name] =
        limit === undefined ? rng.fillUniform(new Float32Array(n), -1, 1) : Int32Array.from({ length: n }, () => rng.nextU32() % limit);
    }
    return { graph, inputs };
  });
}

interface StepPlan {
  readonly kind: GraphStepKind;
  /** Choices consumed in order by a Picker; each is reduced modulo the options. */
  readonly picks: readonly number[];
  readonly eps: number;
  readonly kernel: string | undefined;
  /** Memory annotation for the node's outputs. */
  readonly memory: MemoryKind | undefined;
}

interface GraphPlan {
  readonly name: string;
  readonly attrs: Attrs;
  readonly steps: readonly StepPlan[];
  /** Picks among node outputs for the graph's outputs (state outputs are always returned). */
  readonly outputs: readonly number[];
  /** Seeds weight data and the choices left over when a step runs out of picks. */
  readonly seed: number;
}

const PICK = fc.nat({ max: 1023 });

function arbPlan(opts: GraphOptions): fc.Arbitrary<GraphPlan> {
  const kinds = opts.kinds ?? GRAPH_STEP_KINDS;
  const step: fc.Arbitrary<StepPlan> = fc.record({
    kind: fc.constantFrom(...kinds),
    picks: fc.array(PICK, { minLength: 32, maxLength: 32 }),
    eps: fc.oneof(fc.constant(1e-5), fc.constant(-0), fc.double({ min: 0, max: 1, noNaN: true })),
    kernel: fc.option(arbText(), { nil: undefined }),
    memory: fc.oneof({ weight: 3, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.constantFrom(...MEMORY_KINDS) }),
  });
  return fc.record({
    name: arbName(),
    attrs: arbAttrs(),
    steps: fc.array(step, { minLength: 1, maxLength: opts.maxNodes ?? 10 }),
    outputs: fc.array(PICK, { minLength: 1, maxLength: 3 }),
    seed: fc.integer(),
  });
}

/** Reads a step's choices in order; 0 always means the first / simplest option. */
class Picker {
  #i = 0;
  constructor(
    private readonly picks: readonly number[],
    private readonly rng: Prng,
  ) {}
  next(): number {
    return this.#i < this.picks.length ? this.picks[this.#i++] : this.rng.nextU32() % 1024;
  }
  int(lo: number, hi: number): number {
    return lo + (this.next() % (hi - lo + 1));
  }
  chance(percent: number): boolean {
    return this.next() % 100 >= 100 - percent;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.next() % xs.length];
  }
}

const UNARY = ['ew.silu', 'ew.softplus', 'ew.exp', 'ew.neg'] as const;
const BINARY = ['ew.add', 'ew.sub', 'ew.mul'] as const;
const WEIGHT_DTYPES: readonly DType[] = ['f32', 'f32', 'f16', 'bf16'];

const broadcasts = (a: readonly number[], b: readonly number[]) => isSuffix(a, b) || isSuffix(b, a);
const rank = (...ranks: number[]) => (t: TensorType) => ranks.includes(t.shape.length);
const last = (v: Value) => v.type.shape[v.type.shape.length - 1];

/** Builds one graph from a plan. Every step adds exactly one top-level node. */
class GraphGen {
  readonly tokenLimits = new Map<string, number>();
  readonly #b: GraphBuilder;
  readonly #weights: [Value, WeightArray][] = [];
  /** f32 values available as operands at top level. */
  readonly #pool: Value[] = [];
  readonly #nodeOutputs: Value[] = [];
  readonly #states: string[] = [];
  readonly #rng: Prng;
  #serial = 0;

  constructor(
    private readonly plan: GraphPlan,
    private readonly maxDim: number,
  ) {
    this.#b = new GraphBuilder(plan.name, plan.attrs);
    this.#rng = new Prng(plan.seed, 'graph');
  }

  build(): Graph {
    for (const s of this.plan.steps) this.#step(s, new Picker(s.picks, this.#rng));
    const outs = new Set(this.#states);
    for (const k of this.plan.outputs) outs.add(this.#nodeOutputs[k % this.#nodeOutputs.length].name);
    this.#b.output(...outs);
    const g = this.#b.build();
    // The builder infers bare types; memory annotations are added to outputs afterwards.
    const nodes = g.nodes.map((n, i) => {
      const memory = this.plan.steps[i].memory;
      return memory ? { ...n, outputs: n.outputs.map((v) => ({ ...v, type: { ...v.type, memory } })) } : n;
    });
    const out = makeGraph({ ...g, nodes });
    assertValid(out);
    return out;
  }

  #step(s: StepPlan, p: Picker): void {
    const b = this.#b;
    switch (s.kind) {
      case 'embedding': {
        const V = this.#dim(p);
        const table = this.#weight(p, [V, this.#dim(p)], 'embedding');
        return this.#emit(b.op('nn.embedding', [table, this.#tokens(p, V)], {}, { name: this.#name(p, 'h') }));
      }
      case 'linear': {
        const x = this.#operand(p, rank(1, 2), () => this.#actShape(p));
        const N = this.#dim(p);
        const w = this.#weight(p, [N, last(x)], 'proj');
        const ins = p.chance(50) ? [x, w, this.#weight(p, [N], 'bias')] : [x, w];
        return this.#emit(b.op('nn.linear', ins, {}, { name: this.#name(p, 'y') }));
      }
      case 'rms_norm': {
        const x = this.#operand(p, rank(1, 2), () => this.#actShape(p));
        return this.#emit(b.op('nn.rms_norm', [x, this.#weight(p, [last(x)], 'norm')], { eps: s.eps }, { name: this.#name(p, 'hn') }));
      }
      case 'unary': {
        const x = this.#operand(p, () => true, () => this.#actShape(p));
        return this.#emit(b.op(p.pick(UNARY), [x], {}, { name: this.#name(p, 'u') }));
      }
      case 'binary': {
        const a = this.#operand(p, () => true, () => this.#actShape(p));
        const sh = a.type.shape;
        const suffix = () => sh.slice(p.int(0, sh.length));
        const other = [() => a, () => this.#operand(p, (t) => broadcasts(t.shape, sh), suffix), () => this.#weight(p, suffix(), 'scale')];
        const c = p.pick(other)();
        return this.#emit(b.op(p.pick(BINARY), p.chance(50) ? [c, a] : [a, c], {}, { name: this.#name(p, 'v') }));
      }
      case 'split': {
        const x = this.#operand(p, rank(1, 2), () => this.#actShape(p));
        const sizes: number[] = [];
        let left = last(x);
        for (let parts = p.int(1, Math.min(3, left)); parts > 1; parts--) {
          const s = p.int(1, left - parts + 1);
          sizes.push(s);
          left -= s;
        }
        sizes.push(left);
        return this.#emit(b.op('tensor.split', [x], { sizes }, { name: this.#name(p, 'part') }));
      }
      case 'conv1d_step':
      case 'conv1d': {
        const seq = s.kind === 'conv1d';
        const x = this.#operand(p, rank(seq ? 2 : 1), () => (seq ? [p.int(1, 4), this.#dim(p)] : [this.#dim(p)]));
        const [e, k] = [last(x), p.int(1, 4)];
        const state = this.#input(p, [e, k], 'conv');
        const ins = [state, x, this.#weight(p, [e, k], 'conv.w')];
        if (p.chance(60)) ins.push(this.#weight(p, [e], 'conv.b'));
        const outs = b.op(`ssm.${s.kind}`, ins, {}, { name: this.#name(p, 'conv') });
        this.#states.push(outs[1].name);
        return this.#emit(outs);
      }
      case 'scan_step':
      case 'scan': {
        const seq = s.kind === 'scan';
        const x = this.#operand(p, rank(seq ? 2 : 1), () => (seq ? [p.int(1, 4), this.#dim(p)] : [this.#dim(p)]));
        const [e, st] = [last(x), p.int(1, 4)];
        const lead = x.type.shape.slice(0, -1);
        const shaped = (shape: readonly number[], stem: string) => this.#operand(p, (t) => shapeEqual(t.shape, shape), () => [...shape], stem);
        const dt = shaped(x.type.shape, 'dt');
        const A = this.#weight(p, [e, st], 'A');
        const [B, C] = [shaped([...lead, st], 'B'), shaped([...lead, st], 'C')];
        const state = this.#input(p, [e, st], 'ssm');
        const outs = b.op(`ssm.${s.kind}`, [state, x, dt, A, B, C], {}, { name: this.#name(p, 'scan') });
        this.#states.push(outs[1].name);
        return this.#emit(outs);
      }
      case 'fused':
        return this.#emit(this.#fused(s, p));
    }
  }

  /** A fused.group over 1..3 operands (sometimes a weight) with a 1..3 node body. */
  #fused(s: StepPlan, p: Picker): Value[] {
    const floatWeights = this.#weights.map(([w]) => w).filter((w) => w.type.dtype !== 'i32');
    const ins = Array.from({ length: p.int(1, 3) }, () =>
      floatWeights.length && p.chance(20) ? p.pick(floatWeights) : this.#operand(p, () => true, () => this.#actShape(p)),
    );
    const k = this.#serial++;
    const params = ins.map((v, i) => ({ name: `f${k}.p${i}`, type: tensorType(v.type.dtype, v.type.shape) }));
    const body = buildRegion(
      params,
      (rb, ps) => {
        const local: Value[] = [...ps];
        // A new weight joins the graph and is declared to the body's builder too.
        const weight = (shape: number[], stem: string) => {
          const w = this.#weight(p, shape, stem);
          return rb.weight(w.name, w.type, this.#weights.find(([x]) => x === w)![1]);
        };
        for (let j = 0, n = p.int(1, 3); j < n; j++) {
          const a = p.pick(local);
          const name = `f${k}.t${j}`;
          const choice = a.type.shape.length === 1 || a.type.shape.length === 2 ? p.int(0, 3) : p.int(0, 1);
          if (choice === 0) local.push(rb.op1(p.pick(UNARY), [a], {}, name));
          else if (choice === 1) local.push(rb.op1(p.pick(BINARY), [a, p.pick(local.filter((v) => broadcasts(v.type.shape, a.type.shape)))], {}, name));
          else if (choice === 2) local.push(rb.op1('nn.rms_norm', [a, weight([last(a)], 'norm')], { eps: s.eps }, name));
          else local.push(rb.op1('nn.linear', [a, weight([this.#dim(p), last(a)], 'proj')], {}, name));
        }
        // The last body value, and sometimes a second one (possibly a parameter).
        return [...new Set([local[local.length - 1], ...(p.chance(30) ? [p.pick(local)] : [])])];
      },
      [...this.#weights],
    );
    return this.#b.op('fused.group', ins, s.kernel === undefined ? {} : { kernel: s.kernel }, { body, name: this.#name(p, 'fused') });
  }

  #emit(outs: Value[]): void {
    this.#pool.push(...outs);
    this.#nodeOutputs.push(...outs);
  }

  #dim(p: Picker): number {
    return p.int(1, this.maxDim);
  }

  #actShape(p: Picker): number[] {
    return p.chance(50) ? [p.int(1, 4), this.#dim(p)] : [this.#dim(p)];
  }

  /** Names in every style the grammar allows; undefined lets the builder number it. */
  #name(p: Picker, stem: string): string | undefined {
    const k = this.#serial++;
    return [undefined, `${stem}${k}`, `l${k}.${stem}`, `_${k}.${stem}.next`][p.int(0, 3)];
  }

  /** A pool value accepted by `ok`, or a fresh graph input of shape `shape()`. */
  #operand(p: Picker, ok: (t: TensorType) => boolean, shape: () => number[], stem = 'x'): Value {
    const found = this.#pool.filter((v) => ok(v.type));
    return found.length && p.chance(80) ? p.pick(found) : this.#input(p, shape(), stem);
  }

  #input(p: Picker, shape: readonly number[], stem: string, dtype: DType = 'f32'): Value {
    const memory = p.chance(15) ? p.pick(MEMORY_KINDS) : undefined;
    const v = this.#b.input(this.#name(p, stem) ?? this.#b.fresh(), tensorType(dtype, shape, memory ? { memory } : {}));
    if (dtype === 'f32') this.#pool.push(v);
    return v;
  }

  /** Token ids for a vocabulary of V: a shared i32 input (its bound tightened), a fresh one, or an i32 weight. */
  #tokens(p: Picker, V: number): Value {
    const shape = p.chance(50) ? [p.int(1, 4)] : [];
    const shared = [...this.tokenLimits.keys()];
    if (shared.length && p.chance(50)) {
      const name = p.pick(shared);
      this.tokenLimits.set(name, Math.min(V, this.tokenLimits.get(name)!));
      return { name, type: this.#b.typeOf(name) };
    }
    if (p.chance(15)) {
      const data = Int32Array.from({ length: numel(shape) }, () => this.#rng.nextU32() % V);
      return this.#addWeight(this.#name(p, 'ids') ?? this.#b.fresh(), tensorType('i32', shape), data);
    }
    const v = this.#input(p, shape, 'token', 'i32');
    this.tokenLimits.set(v.name, V);
    return v;
  }

  /** A float weight with random data and, sometimes, memory / cn4 / perm annotations. */
  #weight(p: Picker, shape: readonly number[], stem: string): Value {
    const dtype = p.pick(WEIGHT_DTYPES);
    const rows = shape[0];
    const ann: { memory?: MemoryKind; cn4?: number[]; perm?: number[] } = {};
    if (p.chance(15)) ann.memory = p.pick(MEMORY_KINDS);
    if (shape.length === 2 && p.chance(25)) ann.cn4 = this.#cn4(p, rows);
    if (shape.length >= 1 && p.chance(20)) ann.perm = this.#perm(p, rows);
    const values = this.#rng.fillUniform(new Float32Array(numel(shape)), -1, 1);
    if (ann.cn4) this.#prune(values, ann.cn4, shape[1]);
    const data = dtype === 'f16' ? encodeF16Array(values) : dtype === 'bf16' ? encodeBf16Array(values) : values;
    return this.#addWeight(this.#name(p, stem) ?? this.#b.fresh(), tensorType(dtype, shape, ann), data);
  }

  #addWeight(name: string, type: TensorType, data: WeightArray): Value {
    const v = this.#b.weight(name, type, data);
    this.#weights.push([v, data]);
    return v;
  }

  /** One n for all rows, two blocks, or one per row. */
  #cn4(p: Picker, rows: number): number[] {
    const style = p.int(0, 2);
    const [a, b, cut] = [p.int(0, 4), p.int(0, 4), p.int(0, rows)];
    return Array.from({ length: rows }, (_, r) => (style === 0 ? a : style === 1 ? (r < cut ? a : b) : p.int(0, 4)));
  }

  /** Identity, a rotation (two ascending runs), or a full shuffle. */
  #perm(p: Picker, rows: number): number[] {
    const ids = Array.from({ length: rows }, (_, i) => i);
    const style = p.int(0, 2);
    if (style === 1) {
      const k = p.int(0, rows - 1);
      return [...ids.slice(k), ...ids.slice(0, k)];
    }
    if (style === 2) {
      for (let i = rows - 1; i > 0; i--) {
        const j = this.#rng.nextU32() % (i + 1);
        [ids[i], ids[j]] = [ids[j], ids[i]];
      }
    }
    return ids;
  }

  /** Zeroes n entries of every group of 4 columns in each row, as C_n^4 sparsity means. */
  #prune(values: Float32Array, cn4: readonly number[], cols: number): void {
    cn4.forEach((n, r) => {
      for (let g = 0; g < cols; g += 4) {
        const slots = [0, 1, 2, 3].filter((i) => g + i < cols);
        for (let z = 0; z < n && slots.length; z++) {
          const [i] = slots.splice(this.#rng.nextU32() % slots.length, 1);
          values[r * cols + g + i] = 0;
        }
      }
    });
  }
}
