// A tensor as stored in a checkpoint container, before it becomes an IR weight.
// Shapes are row-major (outermost first) whatever the container's own convention.

export type StorageDType = 'f32' | 'f16' | 'bf16';

/** f32 data is a Float32Array; f16 and bf16 keep their raw 16-bit patterns. */
export type RawData = Float32Array | Uint16Array;

export interface RawTensor {
  readonly dtype: StorageDType;
  readonly shape: readonly number[];
  readonly data: RawData;
}

export function elementCount(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function bytesPerElement(dtype: StorageDType): number {
  return dtype === 'f32' ? 4 : 2;
}
