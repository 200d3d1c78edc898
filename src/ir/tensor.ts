// Runtime tensors of the interpreter: f32 storage for every float dtype, i32 for ints.
import type { TensorType } from './types.ts';
import { numel } from './types.ts';
import { SsmcError } from '../errors.ts';

export type TensorData = Float32Array | Int32Array;

export interface Tensor {
  readonly type: TensorType;
  readonly data: TensorData;
}

export function alloc(type: TensorType): Tensor {
  const n = numel(type.shape);
  return { type, data: type.dtype === 'i32' ? new Int32Array(n) : new Float32Array(n) };
}

export function tensor(type: TensorType, data: ArrayLike<number>): Tensor {
  const t = alloc(type);
  if (data.length !== t.data.length) throw new SsmcError('E_SHAPE', `tensor of shape [${type.shape}] needs ${t.data.length} values, got ${data.length}`);
  t.data.set(data);
  return t;
}

/** Float data of a tensor (throws for i32, which no float op accepts after verification). */
export function f32(t: Tensor): Float32Array {
  if (!(t.data instanceof Float32Array)) throw new SsmcError('E_EVAL', 'expected float data');
  return t.data;
}

export function i32(t: Tensor): Int32Array {
  if (!(t.data instanceof Int32Array)) throw new SsmcError('E_EVAL', 'expected i32 data');
  return t.data;
}
