// Small type-inference helpers shared by op definitions.
import { typeError } from '../op-registry.ts';
import type { TensorType } from '../types.ts';
import { formatTypeBrief, isFloat, shapeEqual } from '../types.ts';

export function expectFloat(t: TensorType, what: string): void {
  if (!isFloat(t.dtype)) typeError(`${what} must be a float tensor, got ${formatTypeBrief(t)}`);
}

export function expectRank(t: TensorType, ranks: readonly number[], what: string): void {
  if (!ranks.includes(t.shape.length)) typeError(`${what} must have rank ${ranks.join(' or ')}, got ${formatTypeBrief(t)}`);
}

export function expectShape(t: TensorType, shape: readonly number[], what: string): void {
  if (!shapeEqual(t.shape, shape)) typeError(`${what} must have shape [${shape.join(',')}], got ${formatTypeBrief(t)}`);
}

export function lastDim(t: TensorType): number {
  return t.shape[t.shape.length - 1];
}

/** Activations are computed and stored in f32 whatever the weights' storage dtype. */
export function act(shape: readonly number[]): TensorType {
  return { dtype: 'f32', shape: [...shape] };
}
