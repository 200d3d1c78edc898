// Lowers a one-token (decode) graph to an OpenCL folder: the prefill graph is derived
// by lifting (liftToSequence), both are flattened, the flat nodes are grouped into
// kernels again (epilogue.ts: views, store epilogues, inlined loads: one kernel per
// fused group), each kernel is launched through the rules, every stored value a device memory object
// (buffer or image2d, as its IR type says; reused by liveness among objects of the
// same shape and kind), and Handlebars renders kernels.cl, the host tables and the
// runtime. The weights go into the project's packed file (specs/packed-weights.md);
// weights typed image2d are turned into images on the device when the model is
// opened. The driver is the C backend's (the runtime offers the same session API).
// The result is data only; compile.ts writes it.
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SsmcError } from '../../errors.ts';
import type { Graph } from '../../ir/graph.ts';
import type { MemoryKind, TensorType } from '../../ir/types.ts';
import { numel } from '../../ir/types.ts';
import type { PackedFile, PackedTensorInfo } from '../packed/index.ts';
import { GUARD, packWeights, storedChecksumHex, valueBytes } from '../packed/index.ts';
import type { Entry } from './epilogue.ts';
import type { Virtual } from './epilogue.ts';
import { entryInputs, entryOutputs, kernelsOf } from './epilogue.ts';
import type { FlatNode } from '../flatten.ts';
import { stateLayout, valueTypes } from '../graph-io.ts';
import type { ClOperand, ClWeight, Epilogue } from './operands.ts';
import { imageDims, lastDim, memoryOf, rowsOf } from './operands.ts';
import type { Launch } from './rules.ts';
import type { MatvecTuning } from './rules.ts';
import { BINARY, broadcastLoad, cn4Ctx, RULES, UNARY } from './rules.ts';
import { cn4ImageBytes, cn4ImageLayout } from './cn4-image.ts';
import { getDevice } from '../../passes/devices/index.ts';
import { LAYOUT_DEVICE_ATTR } from '../../passes/layout/apply.ts';
import { templateEnv } from '../templates.ts';
import { prepareLowering, streamed } from '../lowering.ts';

const HERE = dirname(fileURLToPath(import.meta.url));
export const TEMPLATE_DIR = resolve(HERE, '../../../templates/opencl');
/** The driver (logits / bench / generate / serve) is shared with the C backend. */
const DRIVER_TEMPLATE = resolve(HERE, '../../../templates/c/ssmc_driver.c.hbs');

export interface OpenCLEmitOptions {
  /** Tokens per prefill call of the generated code (longer prefills are chunked). */
  readonly chunk?: number;
  /**
   * Device table whose matvec tuning picks work-group reductions (default: the device
   * select-layout recorded in the graph, else generic).
   */
  readonly device?: string;
  /** Overrides the table's matvec work-group (0: one work item per 4 rows everywhere). */
  readonly matvecWorkGroup?: number;
  /** Fold single-use elementwise ops into the kernel producing their input (default true). */
  readonly epilogues?: boolean;
}

export interface OpenCLManifest {
  readonly format: 'ssmc-opencl';
  readonly version: 1;
  readonly graph: string;
  readonly vocab: number;
  readonly chunk: number;
  readonly state: ReadonlyArray<{ readonly name: string; readonly size: number }>;
  readonly stateFloats: number;
  readonly weightsBytes: number;
  readonly decodeWeightBytes: number;
  /** The same, split by the memory kind the weights are read from. */
  readonly decodeWeightBytesByKind: Readonly<Record<MemoryKind, number>>;
  readonly weightsChecksum: string;
  /** Device table of the matvec tuning, and the work-group sizes of the decode step's matvecs (0: one work item per 4 rows). */
  readonly device: string;
  readonly matvecWorkGroups: readonly number[];
  /** Kernel launches of one decode step, and how many of them are mem.* conversions. */
  readonly decodeLaunches: number;
  readonly decodeConversions: number;
  /** Weights and intermediates kept in images (the rest are buffers). */
  readonly imageWeights: readonly string[];
  readonly imageValues: number;
}

export interface OpenCLModule {
  readonly files: ReadonlyMap<string, string>;
  readonly weights: PackedFile;
  readonly manifest: OpenCLManifest;
}

interface MemSpec {
  readonly image: 0 | 1;
  readonly half: 0 | 1;
  /** A weight's index in the file, its bytes there (uploaded), or -1. */
  readonly weight: number;
  readonly offset: number;
  readonly bytes: number;
  /** Bytes of a device buffer (an intermediate, or one an init kernel fills). */
  readonly size: number;
  readonly w: number;
  readonly h: number;
  readonly d: number;
  /** Kernel that fills the object from the uploaded bytes once (-1: none), and its work items. */
  readonly init: number;
  readonly items: number;
  readonly what: string;
}

/** Device memory objects, reused by liveness among objects of one shape and kind. */
class MemPool {
  readonly specs: MemSpec[] = [];
  #free = new Map<string, number[]>();
  #key = (s: MemSpec) => `${s.image}|${s.size}|${s.w}|${s.h}`;
  add(spec: MemSpec): number {
    this.specs.push(spec);
    return this.specs.length - 1;
  }
  alloc(spec: MemSpec): number {
    const list = this.#free.get(this.#key(spec));
    if (list?.length) return list.pop()!;
    return this.add(spec);
  }
  release(i: number): void {
    const k = this.#key(this.specs[i]);
    const list = this.#free.get(k) ?? [];
    list.push(i);
    this.#free.set(k, list);
  }
  /** Every intermediate free again (decode and prefill never run at once). */
  reclaim(from: readonly number[]): void {
    for (const i of from) this.release(i);
  }
}

/** Bytes one full read of a weight costs in the memory it lives in. */
function readBytes(w: ClWeight, type: { readonly shape: readonly number[] }): number {
  if (w.memory === 'buffer') return w.size;
  if (w.layout === 'cn4') return cn4ImageBytes(cn4ImageLayout(w));
  const { w: tw, h } = imageDims({ dtype: 'f32', shape: [...type.shape] });
  return tw * h * 4 * valueBytes(w.dtype);
}

const comment = (s: string) => s.replace(/\*\//g, '* /');

/** A C string literal, one source line per literal line. */
function cSource(text: string): string {
  const esc = (line: string) => line.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\?\?/g, '?\\?');
  return text.split('\n').map((l) => `  "${esc(l)}\\n"`).join('\n');
}

export function emitOpenCL(input: Graph, opts: OpenCLEmitOptions = {}): OpenCLModule {
  const chunk = opts.chunk ?? 16;
  const { decode, prefill, gio, flats } = prepareLowering(input, chunk, 'OpenCL');
  const decodeTypes = valueTypes(decode);

  for (const v of [...gio.state, decodeTypes.has(gio.logits) ? { name: gio.logits, type: decodeTypes.get(gio.logits)! } : undefined]) {
    if (v && memoryOf(v.type) !== 'buffer') throw new SsmcError('E_UNSUPPORTED', `OpenCL backend: graph input/output %${v.name} must be a buffer (the host reads and writes it), it is ${memoryOf(v.type)}`);
  }

  const weights = packWeights(decode, { tileRows: 4 });
  const recorded = input.attrs[LAYOUT_DEVICE_ATTR];
  const tuningDevice = opts.device ?? (typeof recorded === 'string' ? recorded : 'generic');
  const table = getDevice(tuningDevice).matvec;
  // An explicit work-group applies to every matvec, however short (tests use it on tiny models).
  const matvec: MatvecTuning = opts.matvecWorkGroup === undefined ? table : { workGroup: opts.matvecWorkGroup, minTexelsPerItem: 1 };
  const pool = new MemPool();
  const kernels: Array<{ partial: string; ctx: Record<string, unknown> }> = [{ partial: '', ctx: {} }, { partial: '', ctx: {} }];
  const kernelNames = ['ssmc_img_f32', 'ssmc_img_f16'];
  const kernelIndex = new Map<string, number>();
  const globals = new Set<string>();
  const kernel = (partial: string, ctx: Record<string, unknown>): number => {
    const key = `${partial}|${JSON.stringify(ctx)}`;
    let i = kernelIndex.get(key);
    if (i === undefined) {
      i = kernelNames.length;
      const fn = `k${i}_${partial}`;
      kernelNames.push(fn);
      kernels.push({ partial, ctx: { ...ctx, fn } });
      kernelIndex.set(key, i);
    }
    return i;
  };

  const decls = new Map(decode.weights.map((w) => [w.name, w]));
  type Placed = ClWeight & { mem: number; codes?: number };
  const byName = new Map<string, Placed>();
  const none = { size: 0, w: 0, h: 0, init: -1, items: 0 };
  /** The device memory object of a weight in one memory kind (filled once, when the model is opened). */
  const weightMem = (name: string, info: PackedTensorInfo, index: number, type: TensorType, memory: MemoryKind): Placed => {
    if (memory === 'image2d' && (info.dtype === 'i32' || type.shape.length === 0)) throw new SsmcError('E_UNSUPPORTED', `OpenCL backend: weight @${info.name} cannot be an image (${info.dtype}, rank ${type.shape.length})`, { what: `@${info.name}` });
    const w: ClWeight = { ...info, index, memory };
    const src = { weight: index, offset: info.offset, bytes: info.size + GUARD, d: lastDim(type) };
    const half = info.dtype === 'f16' ? 1 : 0;
    if (memory === 'buffer') return { ...w, mem: pool.add({ image: 0, half: 0, ...src, ...none, what: `@${name}` }) };
    if (info.layout === 'dense') {
      const dims = imageDims(type);
      return { ...w, mem: pool.add({ image: 1, half, ...src, size: 0, ...dims, init: half, items: dims.w * dims.h, what: `@${name} (image)` }) };
    }
    // C_n^4 as an image: the kept values compacted into texels, the codes in a buffer beside.
    const img = cn4ImageLayout(info);
    const cctx = { ...cn4Ctx(w), suf: info.dtype, ct: half ? 'half' : 'float', load: `ssmc_vld_${info.dtype}`, vb: valueBytes(info.dtype) };
    const words = img.codeBytes / 4;
    return {
      ...w,
      mem: pool.add({ image: 1, half, ...src, size: 0, w: img.width, h: img.height, init: kernel('img_cn4', { ...cctx, texels: img.texels }), items: Math.max(1, img.texels), what: `@${name} (compact C_n^4 image, ${img.texels} texels)` }),
      codes: pool.add({ image: 0, half: 0, ...src, size: Math.max(4, img.codeBytes), w: 0, h: 0, init: kernel('cod_cn4', { ...cctx, words }), items: Math.max(1, words), what: `@${name} (codes of the compact image)` }),
    };
  };
  weights.table.forEach((info, index) => {
    const type = decls.get(info.name)!.type;
    byName.set(info.name, weightMem(info.name, info, index, type, memoryOf(type)));
  });
  // A mem.* conversion of a weight is done once, at upload: its result is the same
  // tensor in the other memory kind, and no kernel runs per token.
  for (const flat of [flats.decode, flats.prefill]) {
    for (let i = flat.length - 1; i >= 0; i--) {
      const f = flat[i];
      const w = byName.get(f.inputs[0]);
      if (!f.op.startsWith('mem.') || !w) continue;
      const out = f.outputs[0];
      if (!byName.has(out.name)) byName.set(out.name, weightMem(out.name, w, w.index, out.type, memoryOf(out.type)));
      flat.splice(i, 1);
    }
  }
  // Every non-streamed use of a weight reads dense f32 (a cast-weights pipeline keeps
  // vectors f32; a matrix reused as a vector would be a graph this backend cannot run).
  for (const f of [...flats.decode, ...flats.prefill]) {
    f.inputs.forEach((name, i) => {
      const w = byName.get(name);
      if (!w || streamed(f.op, i) || (w.dtype === 'f32' && w.layout === 'dense') || (w.dtype === 'i32' && f.op === 'tensor.gather')) return;
      throw new SsmcError('E_UNSUPPORTED', `OpenCL backend: ${f.op} reads @${name} as dense f32, but it is stored as ${w.layout === 'cn4' ? 'C_n^4 ' : ''}${w.dtype}`, { what: `@${name}` });
    });
  }

  const fixedMem = new Map<string, number>();
  const plan = (g: Graph, flat: FlatNode[], seqMode: boolean, logitsMem: number) => {
    const types = valueTypes(g);
    const isSeq = (name: string) => seqMode && types.get(name)!.shape.length !== decodeTypes.get(name)!.shape.length;
    const argOf = new Map<string, number>([[gio.tokens, -1], [gio.logits, logitsMem]]);
    gio.state.forEach((s, i) => argOf.set(s.name, -2 - i));
    for (const [name, i] of gio.stateOut) argOf.set(name, -2 - gio.state.length - i);
    for (const out of g.outputs) {
      if (!flat.some((f) => f.outputs.some((v) => v.name === out))) throw new SsmcError('E_UNSUPPORTED', `OpenCL backend: output %${out} is not computed by a node`);
    }
    const stored = new Set([...argOf.keys(), ...g.outputs]);
    const { entries, virtuals } = opts.epilogues === false ? { entries: flat.map((f): Entry => ({ anchor: f, epilogues: new Map() })), virtuals: new Map<string, Virtual>() } : kernelsOf(flat, stored, byName);
    /** The stored values a name reads (a virtual value: what it reads), and the virtual ops met on the way. */
    const realInputs = (names: readonly string[], ops?: FlatNode[]): string[] => {
      const out: string[] = [];
      const walk = (n: string) => {
        const v = virtuals.get(n);
        if (!v) return void out.push(n);
        if (ops && !ops.includes(v.node)) ops.push(v.node);
        if (v.kind === 'view') {
          walk(v.of);
          if (v.tokens) walk(v.tokens);
        } else {
          entryInputs(v.entry).forEach(walk);
          if (ops) for (const ep of v.entry.epilogues.values()) for (const s of ep.steps) if (!ops.includes(s.node)) ops.push(s.node);
        }
      };
      names.forEach(walk);
      return out;
    };
    const last = new Map<string, number>();
    entries.forEach((e, i) => realInputs(entryInputs(e)).forEach((n) => last.set(n, i)));
    const owned = new Map<string, number>();
    const launches: Array<{ kernel: number; nargs: number; args: string; perT: number; fixed: number; comment: string; conversion: boolean; wg: number }> = [];
    const stored_ = (name: string): ClOperand => {
      const type = types.get(name)!;
      const w = byName.get(name);
      const seq = !w && isSeq(name);
      return { value: name, type, memory: memoryOf(type), seq, d: lastDim(type), rows: rowsOf(type, seq, chunk), weight: w };
    };
    const operand = (name: string): ClOperand => {
      const base = stored_(name);
      const v = virtuals.get(name);
      if (!v) return base;
      if (v.kind === 'view') return { ...base, view: { of: operand(v.of), off: v.off, tokens: v.tokens } };
      return { ...base, expr: inlined(v.entry) };
    };
    /** An elementwise entry (its anchor and folded steps) as an expression of (r, c). */
    const inlined = (e: Entry): NonNullable<ClOperand['expr']> => {
      const srcs: ClOperand[] = [];
      const load = (x: string, out: string, op: string) => {
        const o = operand(x);
        srcs.push(o);
        return `(${broadcastLoad(`$${srcs.length - 1}$`, o, stored_(out), op)})`;
      };
      const subst = (expr: string, vars: Record<string, string>) => expr.replace(/\b[vpq]\b/g, (m) => vars[m]);
      const f = e.anchor;
      const out = f.outputs[0].name;
      let u = f.op === 'copy' ? load(f.inputs[0], out, f.op) : UNARY[f.op] ? subst(UNARY[f.op], { v: load(f.inputs[0], out, f.op) }) : subst(BINARY[f.op], { p: load(f.inputs[0], out, f.op), q: load(f.inputs[1], out, f.op) });
      for (const ep of e.epilogues.values()) {
        for (const { node: s, index } of ep.steps) {
          const so = s.outputs[0].name;
          const at = (i: number) => (i === index ? `(${u})` : load(s.inputs[i], so, s.op));
          u = s.op === 'copy' ? u : UNARY[s.op] ? subst(UNARY[s.op], { v: `(${u})` }) : subst(BINARY[s.op], { p: at(0), q: at(1) });
        }
      }
      return { srcs, text: u };
    };
    /** The anchor's output operand, with the folded ops as its epilogue. */
    const outOperand = (e: Entry, v: string): ClOperand => {
      const base = operand(v);
      const ep = e.epilogues.get(v);
      if (!ep) return base;
      const result = operand(ep.result.name);
      const epilogue: Epilogue = {
        result,
        steps: ep.steps.map(({ node: f, index }) => {
          if (f.op === 'copy') return { loads: [{ v: 'v' }], expr: 'v' };
          if (UNARY[f.op]) return { loads: [{ v: 'v' }], expr: UNARY[f.op] };
          const out = operand(f.outputs[0].name);
          const loads = f.inputs.map((x, i) => {
            const o = i === index ? undefined : operand(x);
            return { v: i === 0 ? 'p' : 'q', operand: o, at: (nm: string) => broadcastLoad(nm, o!, out, f.op) };
          });
          return { loads, expr: BINARY[f.op] };
        }),
      };
      return { ...base, epilogue };
    };
    entries.forEach((e, i) => {
      const f = e.anchor;
      for (const v of entryOutputs(e)) {
        if (argOf.has(v.name)) continue;
        const t: TensorType = types.get(v.name)!;
        const memory: MemoryKind = memoryOf(t);
        const dims = imageDims(t);
        const m = pool.alloc(memory === 'image2d'
          ? { image: 1, half: 0, weight: -1, offset: 0, bytes: 0, ...none, ...dims, d: lastDim(t), what: `%${v.name} (image)` }
          : { image: 0, half: 0, weight: -1, offset: 0, bytes: 0, ...none, size: 4 * Math.max(4, numel(t.shape)), d: lastDim(t), what: `%${v.name}` });
        owned.set(v.name, m);
        argOf.set(v.name, m);
      }
      const rule = RULES[f.op];
      if (!rule) throw new SsmcError('E_UNSUPPORTED', `OpenCL backend: no rule for op ${f.op}`, { what: `%${f.outputs[0]?.name}` });
      const steps: Launch[] = rule({ node: f.node, ins: f.inputs.map(operand), outs: f.outputs.map((v) => outOperand(e, v.name)), matvec });
      const describe = (x: FlatNode) => `${x.outputs.map((v) => `%${v.name}`).join(', ')} = ${x.op}(${x.inputs.map((n) => (decls.has(n) ? `@${n}` : `%${n}`)).join(', ')})`;
      const folded: FlatNode[] = [];
      realInputs(entryInputs(e), folded);
      const text = comment([...folded.map(describe), describe(f), ...[...e.epilogues.values()].flatMap((ep) => ep.steps.map((s) => describe(s.node)))].join('; '));
      for (const s of steps) {
        const args = s.args.map((n) => {
          const codes = n.endsWith('#codes') ? byName.get(n.slice(0, -'#codes'.length))?.codes : undefined;
          const w = byName.get(n);
          const a = codes ?? (w ? w.mem : argOf.get(n));
          if (a === undefined) throw new SsmcError('E_INTERNAL', `OpenCL backend: %${n} used before it is defined`);
          return a;
        });
        if (args.length > 12) throw new SsmcError('E_INTERNAL', `OpenCL backend: ${f.op} needs ${args.length} kernel arguments (at most 12)`);
        for (const gl of s.globals ?? []) globals.add(gl);
        launches.push({ kernel: kernel(s.partial, s.ctx), nargs: args.length, args: args.join(', '), perT: s.items.perT, fixed: s.items.fixed, comment: text, conversion: f.op.startsWith('mem.'), wg: s.ctx.wg === undefined ? -1 : Number(s.ctx.wg) });
      }
      for (const n of new Set(realInputs(entryInputs(e)))) {
        const m = owned.get(n);
        if (m !== undefined && last.get(n) === i) {
          pool.release(m);
          owned.delete(n);
        }
      }
      for (const v of entryOutputs(e)) {
        const m = owned.get(v.name);
        if (m !== undefined && !last.has(v.name)) {
          pool.release(m);
          owned.delete(v.name);
        }
      }
    });
    pool.reclaim([...owned.values()]);
    return launches;
  };
  const vocab = numel(decodeTypes.get(gio.logits)!.shape);
  fixedMem.set('decode', pool.add({ image: 0, half: 0, weight: -1, offset: 0, bytes: 0, ...none, size: 4 * vocab, d: vocab, what: '%logits' }));
  fixedMem.set('prefill', pool.add({ image: 0, half: 0, weight: -1, offset: 0, bytes: 0, ...none, size: 4 * vocab * chunk, d: vocab, what: `%logits [${chunk} tokens]` }));
  const dl = plan(decode, flats.decode, false, fixedMem.get('decode')!);
  const pl = plan(prefill, flats.prefill, true, fixedMem.get('prefill')!);

  // Bytes of weights a decode step reads, by the memory they are read from: a buffer
  // reads the file's bytes (packed tiles for C_n^4), a dense image its texels, a
  // compact C_n^4 image its value texels and codes; the embedding one row.
  const byKind: Record<MemoryKind, number> = { buffer: 0, image2d: 0 };
  for (const f of flats.decode) {
    f.inputs.forEach((name, i) => {
      const w = byName.get(name);
      if (!w) return;
      const bytes = readBytes(w, decls.get(w.name)?.type ?? w);
      byKind[w.memory] += f.op === 'nn.embedding' && i === 0 ? bytes / w.shape[0] : bytes;
    });
  }
  const decodeWeightBytes = byKind.buffer + byKind.image2d;
  const manifest: OpenCLManifest = {
    format: 'ssmc-opencl',
    version: 1,
    graph: decode.name,
    vocab,
    chunk,
    ...stateLayout(gio),
    weightsBytes: weights.bytes.length,
    decodeWeightBytes: Math.round(decodeWeightBytes),
    decodeWeightBytesByKind: { buffer: Math.round(byKind.buffer), image2d: Math.round(byKind.image2d) },
    weightsChecksum: storedChecksumHex(weights.bytes),
    device: tuningDevice,
    matvecWorkGroups: [...new Set(dl.filter((l) => l.wg >= 0).map((l) => l.wg))].sort((a, b) => a - b),
    decodeLaunches: dl.length,
    decodeConversions: dl.filter((l) => l.conversion).length,
    imageWeights: [...byName].filter(([, w]) => w.memory === 'image2d').map(([name]) => name),
    imageValues: pool.specs.filter((s) => s.image && s.weight < 0).length,
  };

  const hb = templateEnv(TEMPLATE_DIR);
  const source = hb.compile(readFileSync(join(TEMPLATE_DIR, 'kernels.cl.hbs'), 'utf8'), { noEscape: true, strict: true })({
    graphName: decode.name,
    kernels: kernels.slice(2),
    globals: [...globals],
    dtypes: [
      { suf: 'f32', ct: 'float', vb: 4, load: 'ssmc_vld_f32' },
      { suf: 'f16', ct: 'half', vb: 2, load: 'vload_half' },
    ],
  });
  const ctx = {
    graphName: decode.name,
    vocab,
    nState: gio.state.length,
    stateFloats: manifest.stateFloats,
    chunk,
    threads: 1,
    nWeights: weights.table.length,
    weightsBytes: manifest.weightsBytes,
    weightsChecksum: storedChecksumHex(weights.bytes),
    decodeWeightBytes: manifest.decodeWeightBytes,
    nMems: pool.specs.length,
    nKernels: kernelNames.length,
    decode: dl,
    prefill: pl,
    decodeLogits: fixedMem.get('decode'),
    prefillLogits: fixedMem.get('prefill'),
    states: manifest.state,
    kernelNames,
    mems: pool.specs.map((s, index) => ({ ...s, index, what: comment(s.what) })),
    seqs: [
      { name: 'ssmc_decode_seq', launches: dl },
      { name: 'ssmc_prefill_seq', launches: pl },
    ],
    source: cSource(source),
  };
  const files = new Map<string, string>();
  files.set('kernels.cl', source);
  for (const [out, tpl] of [
    ['model.h', 'model.h.hbs'],
    ['model.c', 'model.c.hbs'],
    ['ssmc_runtime.h', 'ssmc_runtime.h.hbs'],
    ['ssmc_runtime.c', 'ssmc_runtime.c.hbs'],
    ['Makefile', 'Makefile.hbs'],
    ['README.md', 'README.md.hbs'],
  ] as const) {
    files.set(out, hb.compile(readFileSync(join(TEMPLATE_DIR, tpl), 'utf8'), { noEscape: true, strict: true })(ctx));
  }
  files.set('ssmc_driver.c', hb.compile(readFileSync(DRIVER_TEMPLATE, 'utf8'), { noEscape: true, strict: true })(ctx));
  files.set('manifest.json', `${JSON.stringify(manifest, null, 2)}\n`);
  return { files, weights, manifest };
}

