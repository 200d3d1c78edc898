// Tensor types: plain frozen data. Annotations that passes add (memory kind, C_n^4
// sparsity, row permutation) live here so a test can read a decision off the IR.

export type DType = 'f32' | 'f16' | 'bf16' | 'i32';
export const DTYPES: readonly DType[] = ['f32', 'f16', 'bf16', 'i32'];

export type MemoryKind = 'buffer' | 'image2d';
export const MEMORY_KINDS: readonly MemoryKind[] = ['buffer', 'image2d'];

export interface TensorType {
  readonly dtype: DType;
  readonly shape: readonly number[];
  /** Where an OpenCL backend keeps the tensor; absent = not decided. */
  readonly memory?: MemoryKind;
  /** C_n^4 sparsity of a 2-D weight: n pruned per group of 4, one entry per row. */
  readonly cn4?: readonly number[];
  /**
   * Row permutation of a 2-D weight: row i of the stored tensor is row perm[i] of the
   * original. Informational (the weights are already permuted); kept so a backend or
   * a user can map rows back.
   */
  readonly perm?: readonly number[];
}

export function tensorType(dtype: DType, shape: readonly number[], ann: Partial<Omit<TensorType, 'dtype' | 'shape'>> = {}): TensorType {
  const t: TensorType = { dtype, shape: [...shape], ...ann };
  return t;
}

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function dtypeBytes(dtype: DType): number {
  return dtype === 'f16' || dtype === 'bf16' ? 2 : 4;
}

export function isFloat(dtype: DType): boolean {
  return dtype !== 'i32';
}

export function shapeEqual(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

function arrEqual(a: readonly number[] | undefined, b: readonly number[] | undefined): boolean {
  if (a === b) return true;
  if (!a || !b) return false;
  return shapeEqual(a, b);
}

/** Full equality including annotations. */
export function typeEqual(a: TensorType, b: TensorType): boolean {
  return a.dtype === b.dtype && shapeEqual(a.shape, b.shape) && a.memory === b.memory && arrEqual(a.cn4, b.cn4) && arrEqual(a.perm, b.perm);
}

/** Equality of what type inference decides: dtype and shape. */
export function sameValueType(a: TensorType, b: TensorType): boolean {
  return a.dtype === b.dtype && shapeEqual(a.shape, b.shape);
}

export function formatShape(shape: readonly number[]): string {
  return `[${shape.join(',')}]`;
}

export function formatTypeBrief(t: TensorType): string {
  return `${t.dtype}${formatShape(t.shape)}`;
}
