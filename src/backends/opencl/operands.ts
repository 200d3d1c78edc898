// Kernel operands by memory kind. Every kernel reads its operands through two macros,
// `x_ld(r, c)` (one element of row r) and `x_ld4(r, g)` (the texel of columns
// 4g..4g+3), and writes through `y_st4(r, g, v)`, so one kernel template serves every
// combination of buffer and image2d operands: the memory decision made in the IR types
// becomes a parameter declaration and two macro bodies here, never a template branch.
//
// A value of shape [..., d] is a matrix of rows x d (rows = numel / d; a scalar is
// 1 x 1). As an image it is ceil(d / 4) x rows RGBA texels: texel (g, r) holds
// columns 4g..4g+3 of row r (the last one zero-padded) — one C_n^4 group of a weight
// row. Activations are always f32; weights may be f16 (read with vload_half from a
// buffer or read_imagef from a CL_HALF_FLOAT image, so no cl_khr_fp16 is needed).
import { SsmcError } from '../../errors.ts';
import type { MemoryKind, TensorType } from '../../ir/types.ts';
import { numel } from '../../ir/types.ts';
import type { PackedTensorInfo } from '../packed/index.ts';
import { cn4ImageLayout, segmentTable } from './cn4-image.ts';

/** A tensor of the weights file as the OpenCL rules see it. */
export interface ClWeight extends PackedTensorInfo {
  readonly index: number;
  readonly memory: MemoryKind;
}

export interface ClOperand {
  /** IR value (or weight) name: what the launch binds to the parameter. */
  readonly value: string;
  readonly type: TensorType;
  readonly memory: MemoryKind;
  /** Elementwise ops folded into the store of this (output) operand. */
  readonly epilogue?: Epilogue;
  /** Carries a leading per-token axis (a prefill value lifted from a one-token value). */
  readonly seq: boolean;
  /** Columns per row (last dimension; 1 for a scalar). */
  readonly d: number;
  /** Rows as an OpenCL C expression in T (`T`, `T * 3`) or a constant. */
  readonly rows: string;
  readonly weight?: ClWeight;
  /**
   * A value no kernel stores, read through another operand's memory: columns
   * `off .. off + d - 1` of `of` (a tensor.split result), or with `tokens` the rows
   * `of[tokens[r]]` (an nn.embedding result read straight from its table).
   */
  readonly view?: { readonly of: ClOperand; readonly off: number; readonly tokens?: string };
  /**
   * A value no kernel stores, computed where it is read: an elementwise expression of
   * (r, c) over `srcs`, `$i$` standing for source i's macro prefix (see emit.ts: a
   * single-use elementwise op read element by element is inlined into its reader).
   */
  readonly expr?: { readonly srcs: readonly ClOperand[]; readonly text: string };
}

/** Kernel parameters of one operand: declarations, the macros that read or write it, the values bound at launch. */
export interface Param {
  readonly decls: readonly string[];
  readonly defs: readonly string[];
  readonly names: readonly string[];
  readonly values: readonly string[];
  /** Program-scope declarations the macros use (segment tables), shared by every kernel. */
  readonly globals?: readonly string[];
}

/**
 * Elementwise ops folded into the kernel that produces their input (see epilogue.ts):
 * each step updates the produced value `_u` at (r, c), reading its other operands.
 */
export interface Epilogue {
  /** The value the kernel finally stores (the last step's result). */
  readonly result: ClOperand;
  readonly steps: ReadonlyArray<{ readonly loads: ReadonlyArray<{ readonly v: string; readonly operand?: ClOperand; readonly at?: (name: string) => string }>; readonly expr: string }>;
}

export const memoryOf = (t: TensorType): MemoryKind => t.memory ?? 'buffer';

export function lastDim(t: TensorType): number {
  return t.shape.length ? t.shape[t.shape.length - 1] : 1;
}

/** Rows of a value: `T * k` for a per-token value in a prefill function, else numel / d. */
export function rowsOf(t: TensorType, seq: boolean, chunk: number): string {
  const d = lastDim(t);
  if (!seq) return String(numel(t.shape) / d);
  const per = numel(t.shape) / chunk / d;
  return per === 1 ? 'T' : `(T * ${per})`;
}

/** Image dimensions (texels) of a value or weight. */
export function imageDims(t: TensorType): { w: number; h: number } {
  const d = lastDim(t);
  return { w: Math.max(1, Math.ceil(d / 4)), h: Math.max(1, numel(t.shape) / d) };
}

/** A read-only operand as `name`: f32 or f16 (weights), buffer or image. */
export function input(name: string, o: ClOperand): Param {
  if (o.view) return viewInput(name, o, o.view);
  if (o.expr) return exprInput(name, o, o.expr);
  const dtype = o.weight?.dtype ?? (o.type.dtype === 'i32' ? 'i32' : 'f32');
  const d = o.d;
  const names = [`${name}_ld`, `${name}_ld4`];
  if (o.memory === 'image2d') {
    if (dtype === 'i32') throw new SsmcError('E_UNSUPPORTED', `OpenCL backend: i32 value %${o.value} cannot live in an image`);
    return {
      decls: [`__read_only image2d_t ${name}`],
      defs: [`#define ${name}_ld(r, c) ssmc_ldi(${name}, (r), (c))`, `#define ${name}_ld4(r, g) read_imagef(${name}, SSMC_SMP, (int2)((g), (r)))`],
      names,
      values: [o.value],
    };
  }
  if (dtype === 'i32') return { decls: [`__global const int *${name}`], defs: [`#define ${name}_ld(r, c) ${name}[(size_t)(r) * ${d} + (c)]`], names: [names[0]], values: [o.value] };
  if (dtype === 'f16') {
    return {
      decls: [`__global const half *${name}`],
      defs: [`#define ${name}_ld(r, c) vload_half((size_t)(r) * ${d} + (c), ${name})`, `#define ${name}_ld4(r, g) ssmc_ld4h(${name}, ${d}, (r), (g))`],
      names,
      values: [o.value],
    };
  }
  return {
    decls: [`__global const float *${name}`],
    defs: [`#define ${name}_ld(r, c) ${name}[(size_t)(r) * ${d} + (c)]`, `#define ${name}_ld4(r, g) ssmc_ld4f(${name}, ${d}, (r), (g))`],
    names,
    values: [o.value],
  };
}

/** `x_ld4` of an operand read lane by lane through its `x_ld` (zeros past column d). */
const laneLd4 = (name: string, d: number) =>
  `#define ${name}_ld4(r, g) ((float4)(${[0, 1, 2, 3].map((l) => `4 * (g) + ${l} < ${d} ? ${name}_ld((r), 4 * (g) + ${l}) : 0.0f`).join(', ')}))`;

/**
 * A view: the macros of the operand it reads (as `name_v`), and `name_ld` /
 * `name_ld4` that shift the column (and map the row through the tokens). A whole texel
 * of the source is read when the view's texels are the source's (offset a multiple of
 * 4, and the view ends on a texel boundary or at the source row's end, whose padding
 * is zero); otherwise lane by lane.
 */
function viewInput(name: string, o: ClOperand, v: NonNullable<ClOperand['view']>): Param {
  const tok: Param = v.tokens ? { decls: [`__global const int *${name}_t`], defs: [], names: [], values: [v.tokens] } : { decls: [], defs: [], names: [], values: [] };
  const rowsOfSource = Math.max(1, numel(v.of.type.shape) / v.of.d);
  const row = v.tokens ? `clamp(${name}_t[(r)], 0, ${rowsOfSource - 1})` : '(r)';
  const w = v.of.weight;
  if (w?.layout === 'cn4') {
    // Rows of a C_n^4 table (packed tiles in a buffer, or the compact image and its
    // codes), located through the weight's segment table and spread to 4 lanes.
    if (v.off !== 0 || o.d !== v.of.d) throw new SsmcError('E_INTERNAL', `OpenCL backend: a column view of C_n^4 weight @${w.name}`);
    const img = cn4ImageLayout(w);
    const segs = `ssmc_segs_${w.index}`;
    const at = `ssmc_cn4_find(${segs}, ${Math.max(1, img.segments.length)}, ${row})`;
    const src = w.memory === 'image2d' ? compactImage(`${name}_v`, v.of) : packedBytes(`${name}_v`, v.of);
    const ld4 = w.memory === 'image2d' ? `ssmc_cn4i_ld4(${name}_v, ${img.log2Width}, ${name}_vc, ${at}, ${img.groups}, (g))` : `ssmc_cn4_ld4_${w.dtype}(${name}_v, ${at}, ${img.groups}, ${img.tail}, (g))`;
    return {
      decls: [...src.decls, ...tok.decls],
      defs: [`#define ${name}_ld4(r, g) ${ld4}`, `#define ${name}_ld(r, c) ssmc_lane(${name}_ld4((r), (c) >> 2), (c) & 3)`],
      names: [`${name}_ld`, `${name}_ld4`],
      values: [...src.values, ...tok.values],
      globals: [`__constant int ${segs}[] = {\n  ${segmentTable(img)}\n};`],
    };
  }
  const inner = input(`${name}_v`, v.of);
  const aligned = v.off % 4 === 0 && (o.d % 4 === 0 || v.off + o.d === v.of.d) && inner.names.includes(`${name}_v_ld4`);
  return {
    decls: [...inner.decls, ...tok.decls],
    defs: [
      ...inner.defs,
      `#define ${name}_ld(r, c) ${name}_v_ld(${row}, ${v.off} + (c))`,
      aligned ? `#define ${name}_ld4(r, g) ${name}_v_ld4(${row}, (g) + ${v.off / 4})` : laneLd4(name, o.d),
    ],
    names: [`${name}_ld`, `${name}_ld4`, ...inner.names],
    values: [...inner.values, ...tok.values],
    globals: inner.globals,
  };
}

/** An inlined elementwise expression: its sources' macros (as `name_0`, `name_1`, ...), then `name_ld` computing the value. */
function exprInput(name: string, o: ClOperand, e: NonNullable<ClOperand['expr']>): Param {
  const srcs = e.srcs.map((s, i) => input(`${name}_${i}`, s));
  const text = e.text.replace(/\$(\d+)\$/g, (_, i: string) => `${name}_${i}`);
  return {
    decls: srcs.flatMap((p) => p.decls),
    defs: [...srcs.flatMap((p) => p.defs), `#define ${name}_ld(r, c) (${text})`, laneLd4(name, o.d)],
    names: [`${name}_ld`, `${name}_ld4`, ...srcs.flatMap((p) => p.names)],
    values: srcs.flatMap((p) => p.values),
    globals: srcs.flatMap((p) => p.globals ?? []),
  };
}

/**
 * A write-only f32 operand: stores whole texels (4 consecutive columns of a row). With
 * an epilogue, `name_st4` first runs its steps on every lane (reading their operands
 * as `name_e0`, `name_e1`, ... at the same row and column) and stores the result.
 */
export function output(name: string, o: ClOperand): Param {
  const names = [`${name}_st4`];
  const target = o.epilogue?.result ?? o;
  const store = target.memory === 'image2d' ? `write_imagef(${name}, (int2)(_eg, _er), _ev)` : `ssmc_st4f(${name}, ${target.d}, _er, _eg, _ev)`;
  const decl = target.memory === 'image2d' ? `__write_only image2d_t ${name}` : `__global float *${name}`;
  if (!o.epilogue) {
    const direct = target.memory === 'image2d' ? `#define ${name}_st4(r, g, v) write_imagef(${name}, (int2)((g), (r)), (v))` : `#define ${name}_st4(r, g, v) ssmc_st4f(${name}, ${o.d}, (r), (g), (v))`;
    return { decls: [decl], defs: [direct], names, values: [o.value] };
  }
  const extra: Param[] = [];
  const steps = o.epilogue.steps.map((s) => {
    const loads = s.loads.map((l) => {
      if (!l.operand) return `const float ${l.v} = _u;`;
      const p = input(`${name}_e${extra.length}`, l.operand);
      extra.push(p);
      return `const float ${l.v} = ${l.at!(`${name}_e${extra.length - 1}`)};`;
    });
    return `{ ${loads.join(' ')} _u = ${s.expr}; }`;
  });
  const body = [
    `#define ${name}_st4(R_, G_, V_) do { const int _er = (R_), _eg = (G_); const float4 _ew = (V_); float _eo[4];`,
    `for (int _el = 0; _el < 4; _el++) { const int r = _er, c = 4 * _eg + _el; float _u = ssmc_lane(_ew, _el);`,
    `if (c < ${target.d}) { ${steps.join(' ')} } _eo[_el] = c < ${target.d} ? _u : 0.0f; }`,
    `const float4 _ev = vload4(0, _eo); ${store}; } while (0)`,
  ].join(' ');
  return {
    decls: [decl, ...extra.flatMap((p) => p.decls)],
    defs: [...extra.flatMap((p) => p.defs), body],
    names: [...names, ...extra.flatMap((p) => p.names)],
    values: [target.value, ...extra.flatMap((p) => p.values)],
    globals: extra.flatMap((p) => p.globals ?? []),
  };
}

/** A raw f32 buffer pointer (state, which the host reads and writes as a buffer). */
export function rawBuffer(name: string, o: ClOperand, writable: boolean): Param {
  if (o.view || o.expr) throw new SsmcError('E_INTERNAL', `OpenCL backend: state value %${o.value} is not stored (a view or an inlined expression)`);
  if (o.memory !== 'buffer') throw new SsmcError('E_UNSUPPORTED', `OpenCL backend: state value %${o.value} must be a buffer (the host saves and restores state as buffers), it is ${o.memory}`);
  return { decls: [`__global ${writable ? '' : 'const '}float *${name}`], defs: [], names: [], values: [o.value] };
}

/** A packed C_n^4 weight in a buffer: its bytes as the file stores them. */
export function packedBytes(name: string, o: ClOperand): Param {
  return { decls: [`__global const uchar *${name}`], defs: [], names: [], values: [o.value] };
}

/** The name a compact C_n^4 image's codes buffer is bound by (emit.ts resolves it). */
export const codesOf = (weight: string) => `${weight}#codes`;

/** A C_n^4 weight in its compact image (cn4-image.ts): the texels, and the codes beside them in a byte buffer. */
export function compactImage(name: string, o: ClOperand): Param {
  return { decls: [`__read_only image2d_t ${name}`, `__global const uchar *${name}c`], defs: [], names: [], values: [o.value, codesOf(o.value)] };
}

/** The signature pieces a kernel partial substitutes. */
export function signature(params: readonly Param[]): { params: string; defs: string; undefs: string; args: string[]; globals: string[] } {
  // A read-only object bound twice under one type (a value read directly and through a
  // view or an inlined expression) becomes one parameter; the second name is a macro.
  const decls: string[] = [];
  const args: string[] = [];
  const aliases: string[] = [];
  const seen = new Map<string, string>();
  const all = params.flatMap((p) => p.decls);
  const values = params.flatMap((p) => p.values);
  all.forEach((decl, i) => {
    const m = /^(.*?)(\w+)$/.exec(decl)!;
    const key = `${m[1]}|${values[i]}`;
    const first = seen.get(key);
    if (first !== undefined && /const |__read_only/.test(m[1])) {
      aliases.push(m[2]);
      decls.push(`#define ${m[2]} ${first}`);
      return;
    }
    if (/const |__read_only/.test(m[1])) seen.set(key, m[2]);
    decls.push(decl);
    args.push(values[i]);
  });
  return {
    params: [...decls.filter((d) => !d.startsWith('#')), 'const int T'].join(', '),
    defs: [...decls.filter((d) => d.startsWith('#')), ...params.flatMap((p) => p.defs)].join('\n'),
    undefs: [...params.flatMap((p) => p.names), ...aliases].map((n) => `#undef ${n}`).join('\n'),
    args,
    globals: [...new Set(params.flatMap((p) => p.globals ?? []))],
  };
}
