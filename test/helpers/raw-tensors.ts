// Random raw tensors for the container round-trip and fuzz properties.
import fc from 'fast-check';
import type { RawTensor, StorageDType } from '../../src/frontend/raw-tensor.ts';

/**
 * Tensors of up to 4 dims of at most `maxDim` each, in f32/f16/bf16, with data as raw
 * bit patterns (NaN payloads included) so that equality is bitwise.
 */
export function rawTensorArb(maxDim = 4): fc.Arbitrary<RawTensor> {
  return fc
    .tuple(fc.constantFrom<StorageDType>('f32', 'f16', 'bf16'), fc.array(fc.integer({ min: 0, max: maxDim }), { maxLength: 4 }))
    .chain(([dtype, shape]) => {
      const n = shape.reduce((a, b) => a * b, 1);
      const max = dtype === 'f32' ? 0xffffffff : 0xffff;
      return fc.array(fc.integer({ min: 0, max }), { minLength: n, maxLength: n }).map((bits): RawTensor => ({
        dtype,
        shape,
        data: dtype === 'f32' ? new Float32Array(new Uint32Array(bits).buffer) : new Uint16Array(bits),
      }));
    });
}
