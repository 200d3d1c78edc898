// Generators and oracles for the layout tests: small graphs whose tensors are often
// image-feasible (dims multiples of 4, some not), random device tables (so that
// conversions are sometimes worth their cost), random feasible pins, and an
// exhaustive minimiser of the layout cost written independently of the min cut.
import fc from 'fast-check';
import { GraphBuilder } from '../../../src/ir/builder.ts';
import type { Graph, Region, Value } from '../../../src/ir/graph.ts';
import { makeGraph } from '../../../src/ir/graph.ts';
import type { MemoryKind, TensorType } from '../../../src/ir/types.ts';
import { numel, tensorType } from '../../../src/ir/types.ts';
import { runPass } from '../../../src/passes/index.ts';
import { fuseOps } from '../../../src/passes/fuse-ops.ts';
import type { DeviceDesc } from '../../../src/passes/devices/index.ts';
import { adreno, IN_PLACE_STATE } from '../../../src/passes/devices/index.ts';
import type { LayoutProblem } from '../../../src/passes/layout/problem.ts';
import { Prng } from '../../../src/util/prng.ts';

export const seed = Number(process.env.FC_SEED ?? 42);

// --- graphs ---------------------------------------------------------------------------

const KINDS = ['linear', 'rms_norm', 'unary', 'binary', 'split', 'conv', 'scan'] as const;
const DIMS = [4, 8, 12, 6];

export interface LayoutCase {
  readonly graph: Graph;
  readonly inputs: Record<string, Float32Array>;
}

interface Plan {
  readonly steps: readonly { kind: (typeof KINDS)[number]; picks: readonly number[] }[];
  readonly fuse: boolean;
  readonly seed: number;
}

export function arbLayoutCase(maxSteps = 4): fc.Arbitrary<LayoutCase> {
  const step = fc.record({ kind: fc.constantFrom(...KINDS), picks: fc.array(fc.nat({ max: 1023 }), { minLength: 12, maxLength: 12 }) });
  return fc.record({ steps: fc.array(step, { minLength: 1, maxLength: maxSteps }), fuse: fc.boolean(), seed: fc.integer() }).map(buildCase);
}

function buildCase(plan: Plan): LayoutCase {
  const rng = new Prng(plan.seed, 'layout-case');
  const b = new GraphBuilder('layout');
  const inputs: Record<string, Float32Array> = {};
  const pool: Value[] = [];
  const outs: string[] = [];
  let k = 0;
  const input = (shape: number[], stem: string, pooled = true) => {
    const v = b.input(`${stem}${k++}`, tensorType('f32', shape));
    inputs[v.name] = rng.fillUniform(new Float32Array(numel(shape)), -1, 1);
    if (pooled) pool.push(v);
    return v;
  };
  const weight = (shape: number[], stem: string) => b.weight(`${stem}${k++}`, tensorType('f32', shape), rng.fillUniform(new Float32Array(numel(shape)), -1, 1));
  for (const s of plan.steps) {
    let i = 0;
    const pick = () => s.picks[i++ % s.picks.length];
    const dim = () => DIMS[pick() % DIMS.length];
    const vec = (ok: (t: TensorType) => boolean, shape: () => number[]) => {
      const c = pool.filter((v) => ok(v.type));
      return c.length && pick() % 5 !== 0 ? c[pick() % c.length] : input(shape(), 'x');
    };
    const rank1 = (t: TensorType) => t.shape.length === 1;
    const x = vec(rank1, () => [dim()]);
    const e = x.type.shape[0];
    const name = `v${k++}`;
    switch (s.kind) {
      case 'linear': {
        const n = dim();
        const ins = [x, weight([n, e], 'w')];
        if (pick() % 2) ins.push(weight([n], 'b'));
        pool.push(b.op1('nn.linear', ins, {}, name));
        break;
      }
      case 'rms_norm':
        pool.push(b.op1('nn.rms_norm', [x, weight([e], 'g')], { eps: 1e-5 }, name));
        break;
      case 'unary':
        pool.push(b.op1(pick() % 2 ? 'ew.silu' : 'ew.exp', [x], {}, name));
        break;
      case 'binary': {
        const other = pick() % 2 ? vec((t) => t.shape.length === 1 && t.shape[0] === e, () => [e]) : weight([e], 's');
        pool.push(b.op1(pick() % 2 ? 'ew.add' : 'ew.mul', [x, other], {}, name));
        break;
      }
      case 'split': {
        const sizes = e > 4 ? [4, e - 4] : [e];
        pool.push(...b.op('tensor.split', [x], { sizes }, { names: sizes.map((_, j) => `${name}.${j}`) }));
        break;
      }
      case 'conv': {
        const state = input([e, 4], 'conv', false);
        const ins = [state, x, weight([e, 4], 'cw')];
        if (pick() % 2) ins.push(weight([e], 'cb'));
        const [y, next] = b.op('ssm.conv1d_step', ins, {}, { names: [name, `${state.name}.next`] });
        pool.push(y);
        outs.push(next.name);
        break;
      }
      case 'scan': {
        const st = [4, 8][pick() % 2];
        const dt = vec((t) => rank1(t) && t.shape[0] === e, () => [e]);
        const B = vec((t) => rank1(t) && t.shape[0] === st, () => [st]);
        const C = vec((t) => rank1(t) && t.shape[0] === st, () => [st]);
        const state = input([e, st], 'ssm', false);
        const [y, next] = b.op('ssm.scan_step', [state, x, dt, weight([e, st], 'A'), B, C], {}, { names: [name, `${state.name}.next`] });
        pool.push(y);
        outs.push(next.name);
        break;
      }
    }
  }
  b.output(...new Set([pool[pool.length - 1].name, ...outs]));
  const g = b.build();
  return { graph: plan.fuse ? runPass(fuseOps, g) : g, inputs };
}

/** The graph without any memory annotation (inputs, weights, results, bodies). */
export function stripMemory(g: Graph): Graph {
  const bare = (v: Value): Value => {
    if (v.type.memory === undefined) return v;
    const { memory: _, ...type } = v.type;
    return { ...v, type };
  };
  const region = (r: Region): Region => ({
    ...r,
    inputs: r.inputs.map(bare),
    nodes: r.nodes.map((n) => ({ ...n, outputs: n.outputs.map(bare), ...(n.body ? { body: region(n.body) } : {}) })),
  });
  return makeGraph({ ...g, ...region(g), inputs: g.inputs.map(bare), weights: g.weights.map(bare) });
}

// --- devices --------------------------------------------------------------------------

/** Device tables with random costs: cheap conversions, narrow images, sometimes no images. */
export const arbDevice: fc.Arbitrary<DeviceDesc> = fc
  .record({
    rb: fc.double({ min: 0.1, max: 2, noNaN: true }),
    ri: fc.double({ min: 0.1, max: 2, noNaN: true }),
    ab: fc.double({ min: 0, max: 1, noNaN: true }),
    ai: fc.double({ min: 0, max: 1, noNaN: true }),
    wb: fc.double({ min: 0.1, max: 2, noNaN: true }),
    wi: fc.double({ min: 0.1, max: 2, noNaN: true }),
    perByte: fc.double({ min: 0, max: 3, noNaN: true }),
    launch: fc.constantFrom(0, 1, 10, 100, 200_000),
    width: fc.constantFrom(1, 2, 3, 16384),
    images: fc.constantFrom(true, true, true, false),
  })
  .map((r) => ({
    ...adreno,
    name: 'random',
    read: { buffer: r.rb, image2d: r.ri },
    reread: { buffer: r.ab, image2d: r.ai },
    write: { buffer: r.wb, image2d: r.wi },
    convert: { perByte: r.perByte, launch: r.launch },
    maxImageWidth: r.width,
    imageSupport: r.images,
    bufferOnly: IN_PLACE_STATE,
  }));

// --- pins -----------------------------------------------------------------------------

/**
 * Annotates some tensors and fused parameters with a kind the problem allows (so the
 * pins never contradict each other or a capability): the user constraints that force
 * conversions. Interface tensors (graph inputs/outputs) are left alone.
 */
export function addPins(g: Graph, p: LayoutProblem, picks: readonly number[]): Graph {
  let i = 0;
  const next = () => picks[i++ % picks.length] ?? 0;
  const choose = (allowed: readonly MemoryKind[]): MemoryKind | undefined => {
    const r = next();
    return r % 3 === 0 ? allowed[(r >> 2) % allowed.length] : undefined;
  };
  const iface = new Set([...g.inputs.map((v) => v.name), ...g.outputs]);
  const pin = new Map<string, MemoryKind>();
  for (const t of p.tensors) {
    const k = iface.has(t.name) ? undefined : choose(t.allowed);
    if (k) pin.set(t.name, k);
  }
  const paramPins = new Map<string, MemoryKind>();
  for (const s of p.sites) {
    if (s.tied || s.operand < 0 || !g.nodes[s.node].body) continue;
    const k = choose(s.allowed);
    if (k) paramPins.set(`${s.node}:${s.operand}`, k);
  }
  const mark = (v: Value, k: MemoryKind | undefined): Value => (k ? { ...v, type: { ...v.type, memory: k } } : v);
  const nodes = g.nodes.map((n, ni) => ({
    ...n,
    outputs: n.outputs.map((o) => mark(o, pin.get(o.name))),
    ...(n.body ? { body: { ...n.body, inputs: n.body.inputs.map((q, j) => mark(q, paramPins.get(`${ni}:${j}`))) } } : {}),
  }));
  return makeGraph({ ...g, nodes, weights: g.weights.map((w) => mark(w, pin.get(w.name))) });
}

// --- the exhaustive oracle ------------------------------------------------------------

/**
 * The minimum layout cost by trying all 2^n stored kinds. For fixed stored kinds each
 * tensor is independent: either no conversion (every site reads the stored kind) or
 * one conversion to the other kind (each untied site then reads the cheaper of the two
 * it can). No read-kind variables, no flow network: a different route to the minimum.
 */
export function exhaustiveMinimum(p: LayoutProblem): number {
  const n = p.tensors.length;
  const sitesOf = p.tensors.map((_, t) => p.sites.filter((s) => s.tensor === t));
  let best = Infinity;
  for (let mask = 0; mask < 1 << n; mask++) {
    const kind = (t: number): MemoryKind => ((mask >> t) & 1 ? 'image2d' : 'buffer');
    if (p.ties.some(([a, b]) => kind(a) !== kind(b))) continue;
    let total = 0;
    for (let t = 0; t < n && total < Infinity; t++) {
      const k = kind(t);
      const other: MemoryKind = k === 'buffer' ? 'image2d' : 'buffer';
      const tensor = p.tensors[t];
      if (!tensor.allowed.includes(k)) {
        total = Infinity;
        break;
      }
      let plain = tensor.write[k];
      let converted = tensor.write[k] + tensor.convert[other];
      for (const s of sitesOf[t]) {
        const can = (m: MemoryKind) => s.allowed.includes(m);
        if (s.tied) {
          const c = can(k) ? s.read[k] : Infinity;
          plain += c;
          converted += c;
          continue;
        }
        plain += can(k) ? s.read[k] : Infinity;
        converted += Math.min(can(k) ? s.read[k] : Infinity, can(other) ? s.read[other] : Infinity);
      }
      total += Math.min(plain, converted);
    }
    best = Math.min(best, total);
  }
  return best;
}

export function close(a: number, b: number): boolean {
  return Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b));
}
