// Lowers a one-token (decode) graph to a self-contained C folder: the prefill graph is
// derived by lifting (liftToSequence) and compiled twice (all logits; the last token's
// logits only, head.ts), both graphs are flattened (fused groups inlined by
// renaming), every intermediate gets an arena slot by liveness, the rules turn nodes
// into partial + context, and Handlebars renders the files. The weights go into the
// project's packed file (specs/packed-weights.md), each tensor in its IR dtype; model.c
// holds what it expects of the file's table and the runtime checks it on load. The
// result is data only; compile.ts writes it.
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SsmcError } from '../../errors.ts';
import type { Graph } from '../../ir/graph.ts';
import { numel } from '../../ir/types.ts';
import { matrixWeights } from '../../passes/cast-weights.ts';
import type { PackedFile, PackedTensorInfo } from '../packed/index.ts';
import { DTYPE_CODES, LAYOUT_CODES, packWeights, storedChecksumHex, tileBytes, valueBytes } from '../packed/index.ts';
import type { CWeight, Operand, RuleContext, Step } from './rules.ts';
import { RULES } from './rules.ts';
import { splitHead } from './head.ts';
import type { FlatNode } from '../flatten.ts';
import { stateLayout, valueTypes } from '../graph-io.ts';
import { templateEnv } from '../templates.ts';
import { prepareLowering, streamed } from '../lowering.ts';

export const TEMPLATE_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../../templates/c');

export interface CEmitOptions {
  /** Default thread count baked into the runtime (the driver's --threads overrides). */
  readonly threads?: number;
  /** Tokens per prefill call of the generated code (longer prefills are chunked). */
  readonly chunk?: number;
}

export interface CManifest {
  readonly format: 'ssmc-c';
  readonly version: 1;
  readonly graph: string;
  readonly vocab: number;
  readonly chunk: number;
  readonly threads: number;
  /** State tensors in snapshot order (graph inputs other than the tokens). */
  readonly state: ReadonlyArray<{ readonly name: string; readonly size: number }>;
  readonly stateFloats: number;
  /** Size of weights.bin. */
  readonly weightsBytes: number;
  readonly decodeWeightBytes: number;
  /** CRC-32 of weights.bin (its header's checksum), 8 hex digits. */
  readonly weightsChecksum: string;
}

export interface CModule {
  /** Text files of the folder, by file name. */
  readonly files: ReadonlyMap<string, string>;
  /** weights.bin: the packed weights file. */
  readonly weights: PackedFile;
  readonly manifest: CManifest;
}


interface Local {
  readonly c: string;
  readonly ir: string;
  readonly offset: number;
  readonly size: number;
}

/** First-fit arena allocator over float slots (64-byte granules). */
class Arena {
  #free: Array<[number, number]> = [];
  top = 0;
  alloc(n: number): number {
    const size = Math.ceil(Math.max(n, 1) / 16) * 16;
    for (let i = 0; i < this.#free.length; i++) {
      const [off, len] = this.#free[i];
      if (len >= size) {
        if (len === size) this.#free.splice(i, 1);
        else this.#free[i] = [off + size, len - size];
        return off;
      }
    }
    const off = this.top;
    this.top += size;
    return off;
  }
  release(off: number, n: number): void {
    const size = Math.ceil(Math.max(n, 1) / 16) * 16;
    this.#free.push([off, size]);
    this.#free.sort((a, b) => a[0] - b[0]);
    const merged: Array<[number, number]> = [];
    for (const b of this.#free) {
      const last = merged[merged.length - 1];
      if (last && last[0] + last[1] === b[0]) last[1] += b[1];
      else merged.push([b[0], b[1]]);
    }
    this.#free = merged;
  }
}


interface FunctionPlan {
  readonly locals: Local[];
  readonly steps: Array<Step & { comment: string }>;
}

/** A planned function, with the number of locals declared after each node's step. */
interface PlannedFunction extends FunctionPlan {
  readonly arena: number;
  readonly localsAfter: readonly number[];
}

/**
 * The body both prefills share (the first `nodes` nodes' steps and their locals) and what
 * each runs after it. The plans must agree on the body to the byte: same steps, same
 * locals at the same arena offsets.
 */
function sharedBody(all: PlannedFunction, last: PlannedFunction, nodes: number): { body: FunctionPlan; all: FunctionPlan; last: FunctionPlan } {
  const nl = nodes ? all.localsAfter[nodes - 1] : 0;
  const body = { locals: all.locals.slice(0, nl), steps: all.steps.slice(0, nodes) };
  if (JSON.stringify(body) !== JSON.stringify({ locals: last.locals.slice(0, nl), steps: last.steps.slice(0, nodes) })) {
    throw new SsmcError('E_INTERNAL', 'C backend: the two prefill plans disagree on the state update they share');
  }
  return { body, all: { locals: all.locals, steps: all.steps.slice(nodes) }, last: { locals: last.locals, steps: last.steps.slice(nodes) } };
}

const comment = (s: string) => s.replace(/\*\//g, '* /');

/** Tiles of the C_n^4 kernels: 4 rows, the writer's default (the kernels assume it). */
const TILE_ROWS = 4;

/**
 * Lane masks of a C_n^4 group of 4 rows (row i in bits 4i..4i+3) by code byte, for
 * n = 3 (code: the kept position) and n = 2 (two rows' two kept positions): ssmc_cn4.h's
 * AVX-512 kernels expand a group's kept values with it (n = 1 values are not stored by
 * group, so n = 1 has no table).
 */
function groupMasks(n: 2 | 3): string {
  const out: string[] = [];
  for (let c = 0; c < 256; c++) {
    let m = 0;
    // n = 3: four rows' 2-bit codes; n = 2: two rows' 4-bit codes (a byte's worth).
    if (n === 2) for (let i = 0; i < 2; i++) m |= keepMask2((c >> (4 * i)) & 15) << (4 * i);
    else for (let i = 0; i < 4; i++) m |= (1 << ((c >> (2 * i)) & 3)) << (4 * i);
    out.push(`0x${m.toString(16).padStart(4, '0')}`);
  }
  return out.join(', ');
}

/** Keep-mask of an n = 2 code (two 2-bit kept positions; a corrupt code keeps fewer). */
const keepMask2 = (code: number): number => (1 << (code & 3)) | (1 << (code >> 2));

/**
 * Byte shuffles for f16 C_n^4 n = 2 groups (AVX-512 kernels): by the code byte of two rows
 * (row 2j in the low nibble), the vpshufb control that puts each of their kept binary16
 * values (2 a row) on its position (0x80: zero).
 */
function f16Shuffles2(): string[] {
  const out: string[] = [];
  for (let b = 0; b < 256; b++) {
    const ctl: number[] = [];
    for (let r = 0; r < 2; r++) {
      const keep = keepMask2((b >> (4 * r)) & 15);
      let k = 0;
      for (let l = 0; l < 4; l++) {
        if ((keep >> l) & 1 && k < 2) {
          const src = 2 * (2 * r + k++);
          ctl.push(src, src + 1);
        } else ctl.push(0x80, 0x80);
      }
    }
    out.push(ctl.map((v) => `0x${v.toString(16).padStart(2, '0')}`).join(', '));
  }
  return out;
}

/** A C string literal (UTF-8 bytes; anything but plain printable ASCII as octal escapes). */
function cString(s: string): string {
  let out = '"';
  for (const b of new TextEncoder().encode(s)) out += b >= 0x20 && b < 0x7f && b !== 0x22 && b !== 0x5c && b !== 0x3f ? String.fromCharCode(b) : `\\${b.toString(8).padStart(3, '0')}`;
  return `${out}"`;
}

export function emitC(input: Graph, opts: CEmitOptions = {}): CModule {
  const chunk = opts.chunk ?? 64;
  const threads = opts.threads ?? 1;
  const { decode, prefill, gio, flats } = prepareLowering(input, chunk, 'C');
  const decls = new Map(decode.weights.map((w) => [w.name, w]));

  const weights = packWeights(decode, { tileRows: TILE_ROWS });
  const segTables: Array<{ name: string; segs: unknown[] }> = [];
  const byName = new Map<string, CWeight>();
  weights.table.forEach((info: PackedTensorInfo, index) => {
    let segTable: string | undefined;
    if (info.segments) {
      segTable = `segs_w${index}`;
      let tile0 = 0;
      const vb = valueBytes(info.dtype);
      segTables.push({
        name: segTable,
        segs: info.segments.map((s) => {
          const r = { row: s.firstRow, rows: s.rows, n: s.n, tile0, offset: s.offset, tileBytes: tileBytes(TILE_ROWS, info.shape[1], s.n, vb).size };
          tile0 += Math.ceil(s.rows / TILE_ROWS);
          return r;
        }),
      });
    }
    byName.set(info.name, { ...info, index, segTable, tiles: info.segments ? info.segments.reduce((a, s) => a + Math.ceil(s.rows / TILE_ROWS), 0) : 0 });
  });
  const matrices = matrixWeights(decode);
  for (const f of [...flats.decode, ...flats.prefill]) {
    f.inputs.forEach((name, i) => {
      const w = byName.get(name);
      if (!w || streamed(f.op, i) || (w.dtype === 'f32' && w.layout === 'dense') || (w.dtype === 'i32' && f.op === 'tensor.gather')) return;
      throw new SsmcError('E_UNSUPPORTED', `C backend: ${f.op} reads @${name} as dense f32, but it is stored as ${w.layout === 'cn4' ? 'C_n^4 ' : ''}${w.dtype}${matrices.has(name) ? ' (it is also a linear/embedding matrix)' : ''}`, { what: `@${name}` });
    });
  }

  // Index tensors that tensor.gather reads: their entries are checked once, when the
  // runtime binds the weights, not on every step (a per-step check cost ~3% of a 130m
  // sparse decode). An index tensor gathering from several widths gets the smallest.
  const bounds = new Map<string, number>();
  for (const [g, flat] of [[decode, flats.decode], [prefill, flats.prefill]] as const) {
    const types = valueTypes(g);
    for (const f of flat) {
      if (f.op !== 'tensor.gather' || !byName.has(f.inputs[1])) continue;
      const shape = types.get(f.inputs[0])!.shape;
      const d = shape[shape.length - 1];
      bounds.set(f.inputs[1], Math.min(bounds.get(f.inputs[1]) ?? d, d));
    }
  }

  const kernels: Array<{ partial: string; ctx: Record<string, unknown> }> = [];
  const kernelNames = new Map<string, string>();
  const decodeTypes = valueTypes(decode);

  // head: nodes of `flat` computed on the chunk's last row only, as in a decode step
  // (their outputs typed as there, per-token inputs read at row T - 1); a guard step
  // before the first of them returns when there are no logits to compute.
  const plan = (g: Graph, flat: FlatNode[], seqMode: boolean, head: ReadonlySet<FlatNode> = new Set()): PlannedFunction => {
    const types = valueTypes(g);
    for (const f of head) for (const v of f.outputs) types.set(v.name, decodeTypes.get(v.name)!);
    const isSeq = (name: string) => seqMode && types.get(name)!.shape.length !== decodeTypes.get(name)!.shape.length;
    const fixed = new Map<string, string>([[gio.tokens, 'tokens'], [gio.logits, 'logits']]);
    gio.state.forEach((s, i) => fixed.set(s.name, `sin[${i}]`));
    for (const [name, i] of gio.stateOut) fixed.set(name, `sout[${i}]`);
    for (const [name, i] of gio.stateOut) {
      const t = types.get(name)!;
      if (numel(t.shape) !== numel(gio.state[i].type.shape)) throw new SsmcError('E_UNSUPPORTED', `C backend: next state %${name} has shape [${t.shape}] in the ${g.name} graph, state %${gio.state[i].name} has [${gio.state[i].type.shape}]`);
    }
    for (const out of g.outputs) {
      if (!flat.some((f) => f.outputs.some((v) => v.name === out))) throw new SsmcError('E_UNSUPPORTED', `C backend: output %${out} is not computed by a node`);
    }
    const last = new Map<string, number>();
    flat.forEach((f, i) => f.inputs.forEach((n) => last.set(n, i)));
    const arena = new Arena();
    const slots = new Map<string, { off: number; size: number }>();
    const locals: Local[] = [];
    const steps: Array<Step & { comment: string }> = [];
    const localsAfter: number[] = [];
    const exprOf = new Map<string, string>(fixed);
    let guarded = false;
    flat.forEach((f, i) => {
      const inHead = head.has(f);
      if (inHead && !guarded) {
        steps.push({ partial: 'head_guard', ctx: {}, comment: 'a chunk before the last: no logits, so no head' });
        guarded = true;
      }
      const operand = (name: string, idx: number): Operand => {
        const type = types.get(name)!;
        const w = byName.get(name);
        if (w) return { expr: `((const ${w.dtype === 'i32' ? 'int32_t' : w.dtype === 'f16' ? 'uint16_t' : 'float'} *)m->w[${w.index}])`, type, seq: false, weight: w };
        void idx;
        const expr = exprOf.get(name);
        if (!expr) throw new SsmcError('E_INTERNAL', `C backend: %${name} used before it is defined`);
        if (inHead && isSeq(name)) {
          const row = decodeTypes.get(name)!;
          return { expr: `(${expr} + (size_t)(T - 1) * ${numel(row.shape)})`, type: row, seq: false };
        }
        return { expr, type, seq: isSeq(name) };
      };
      const ins = f.inputs.map(operand);
      for (const v of f.outputs) {
        if (exprOf.has(v.name)) continue;
        const size = numel(types.get(v.name)!.shape);
        const off = arena.alloc(size);
        slots.set(v.name, { off, size });
        const c = `v${locals.length}`;
        locals.push({ c, ir: comment(v.name), offset: off, size });
        exprOf.set(v.name, c);
      }
      const outs = f.outputs.map((v) => ({ expr: exprOf.get(v.name)!, type: types.get(v.name)!, seq: isSeq(v.name) }));
      const rowElems = (o: Operand) => (o.seq ? numel(o.type.shape) / chunk : numel(o.type.shape));
      const lastDim = (o: Operand) => o.type.shape[o.type.shape.length - 1] ?? 1;
      const ctx: RuleContext = {
        node: f.node,
        ins,
        outs,
        tokens: (o) => {
          const per = rowElems(o) / lastDim(o);
          return o.seq ? (per === 1 ? 'T' : `T * ${per}`) : String(numel(o.type.shape) / lastDim(o));
        },
        rowElems,
        count: (o) => (o.seq ? `T * ${rowElems(o)}` : String(numel(o.type.shape))),
        kernel: (partial, kctx) => {
          const key = `${partial}|${JSON.stringify(kctx)}`;
          let name = kernelNames.get(key);
          if (!name) {
            name = `k${kernelNames.size}_${partial.replace(/^k_/, '')}`;
            kernelNames.set(key, name);
            kernels.push({ partial, ctx: { ...kctx, fn: name } });
          }
          return name;
        },
      };
      const rule = f.op === 'copy' ? copyRule : RULES[f.op];
      if (!rule) throw new SsmcError('E_UNSUPPORTED', `C backend: no rule for op ${f.op}`, { what: `%${f.outputs[0]?.name}` });
      const step = rule(ctx);
      localsAfter.push(locals.length);
      steps.push({ ...step, comment: comment(`${f.outputs.map((v) => `%${v.name}`).join(', ')} = ${f.op}(${f.inputs.map((n) => (decls.has(n) ? `@${n}` : `%${n}`)).join(', ')})`) });
      // Free inputs whose last use this was (outputs are live until their own last use).
      for (const n of new Set(f.inputs)) {
        const s = slots.get(n);
        if (s && last.get(n) === i) {
          arena.release(s.off, s.size);
          slots.delete(n);
        }
      }
      for (const v of f.outputs) {
        const s = slots.get(v.name);
        if (s && !last.has(v.name)) {
          arena.release(s.off, s.size);
          slots.delete(v.name);
        }
      }
    });
    return { locals, steps, arena: arena.top, localsAfter };
  };
  const dplan = plan(decode, flats.decode, false);
  // Both prefills run the state update (the body) first and then the head, for every
  // row or for the last one: planned in the same order, the body's steps and arena
  // places come out the same, so model.c carries the body once, as a function of its own.
  const { body, head } = splitHead(flats.prefill, gio);
  const order = [...body, ...head];
  const pplan = plan(prefill, order, true);
  const lplan = plan(prefill, order, true, new Set(head));
  const shared = sharedBody(pplan, lplan, body.length);

  const logitsType = decodeTypes.get(gio.logits)!;
  const vocab = numel(logitsType.shape);
  let decodeWeightBytes = 0;
  for (const f of flats.decode) {
    f.inputs.forEach((name, i) => {
      const w = byName.get(name);
      if (!w) return;
      // An embedding lookup reads one row (on average, for a C_n^4 table).
      decodeWeightBytes += f.op === 'nn.embedding' && i === 0 ? w.size / w.shape[0] : w.size;
    });
  }
  const manifest: CManifest = {
    format: 'ssmc-c',
    version: 1,
    graph: decode.name,
    vocab,
    chunk,
    threads,
    ...stateLayout(gio),
    weightsBytes: weights.bytes.length,
    decodeWeightBytes: Math.round(decodeWeightBytes),
    weightsChecksum: storedChecksumHex(weights.bytes),
  };
  const ctx = {
    graphName: decode.name,
    vocab,
    nState: gio.state.length,
    stateFloats: manifest.stateFloats,
    chunk,
    threads,
    arenaFloats: Math.max(dplan.arena, pplan.arena, lplan.arena, 16),
    nWeights: weights.table.length,
    weightsBytes: manifest.weightsBytes,
    decodeWeightBytes: manifest.decodeWeightBytes,
    states: manifest.state,
    weights: [...byName.values()].map((t) => ({
      index: t.index,
      cname: cString(t.name),
      dtype: DTYPE_CODES.indexOf(t.dtype),
      layout: LAYOUT_CODES.indexOf(t.layout),
      rank: t.shape.length,
      dims: t.shape.length ? t.shape.join(', ') : '0',
      size: t.size,
      nseg: t.segments?.length ?? 0,
      segs: t.segTable ?? 'NULL',
      bound: bounds.get(t.name) ?? 0,
    })),
    dtypes: [
      { suf: 'f32', wt: 'float', vb: 4 },
      { suf: 'f16', wt: 'uint16_t', vb: 2 },
    ],
    segTables,
    mask16: [groupMasks(3), groupMasks(2)],
    shuf2: f16Shuffles2(),
    kernels,
    decode: dplan,
    prefillBody: shared.body,
    prefill: shared.all,
    prefillLast: shared.last,
  };
  const hb = templateEnv(TEMPLATE_DIR);
  const files = new Map<string, string>();
  for (const [out, tpl] of [
    ['model.h', 'model.h.hbs'],
    ['model.c', 'model.c.hbs'],
    ['ssmc_kernels.h', 'ssmc_kernels.h.hbs'],
    ['ssmc_cn4.h', 'ssmc_cn4.h.hbs'],
    ['ssmc_runtime.h', 'ssmc_runtime.h.hbs'],
    ['ssmc_runtime.c', 'ssmc_runtime.c.hbs'],
    ['ssmc_driver.c', 'ssmc_driver.c.hbs'],
    ['Makefile', 'Makefile.hbs'],
    ['CMakeLists.txt', 'CMakeLists.txt.hbs'],
    ['README.md', 'README.md.hbs'],
  ] as const) {
    files.set(out, hb.compile(readFileSync(join(TEMPLATE_DIR, tpl), 'utf8'), { noEscape: true, strict: true })(ctx));
  }
  files.set('manifest.json', `${JSON.stringify(manifest, null, 2)}\n`);
  return { files, weights, manifest };
}

const copyRule = (c: RuleContext): Step => ({ partial: 'copy', ctx: { x: c.ins[0].expr, out: c.outs[0].expr, count: c.count(c.outs[0]) } });

