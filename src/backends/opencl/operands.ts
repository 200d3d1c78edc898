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
}

/** Kernel parameters of one operand: declarations, the macros that read or write it, the values bound at launch. */
export interface Param {
  readonly decls: readonly string[];
  readonly defs: readonly string[];
  readonly names: readonly string[];
  readonly values: readonly string[];
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
  };
}

/** A raw f32 buffer pointer (state, which the host reads and writes as a buffer). */
export function rawBuffer(name: string, o: ClOperand, writable: boolean): Param {
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
export function signature(params: readonly Param[]): { params: string; defs: string; undefs: string; args: string[] } {
  return {
    params: [...params.flatMap((p) => p.decls), 'const int T'].join(', '),
    defs: params.flatMap((p) => p.defs).join('\n'),
    undefs: params.flatMap((p) => p.names.map((n) => `#undef ${n}`)).join('\n'),
    args: params.flatMap((p) => p.values),
  };
}
