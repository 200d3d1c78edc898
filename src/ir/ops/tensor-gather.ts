// Gathers along the last axis: out[..., j] = x[..., idx[j]]. The indices come from an
// `indices` attribute (handy in hand-written IR) or from an i32 tensor operand (what
// passes emit, so that a 10k-entry index prints as a weight reference). It is how a
// pass realizes a permutation it cannot fold into neighbouring weights.
import { defineOp, streamingCost, typeError } from '../op-registry.ts';
import type { Attrs } from '../graph.ts';
import { alloc, f32, i32 } from '../tensor.ts';
import type { TensorType } from '../types.ts';
import { formatTypeBrief, numel } from '../types.ts';
import { act, expectFloat, expectRank, lastDim } from './check.ts';

function attrIndices(attrs: Attrs): readonly number[] | undefined {
  const v = attrs.indices;
  return Array.isArray(v) ? (v as number[]) : undefined;
}

export const gather = defineOp({
  kind: 'tensor.gather',
  description: 'out[..., j] = x[..., indices[j]] along the last axis (indices: attribute or i32 operand)',
  fusion: 'injective',
  inputs: ['x', 'indices?'],
  attrs: { indices: { kind: 'ints', doc: 'positions in the last axis of x (instead of an indices operand)' } },
  infer([x, idx], attrs) {
    expectFloat(x, 'x');
    expectRank(x, [1, 2], 'x');
    const fromAttr = attrIndices(attrs);
    if ((fromAttr === undefined) === (idx === undefined)) typeError('give the indices either as the `indices` attribute or as an i32 operand, not both');
    let m: number;
    if (idx) {
      if (idx.dtype !== 'i32') typeError(`indices must be i32, got ${formatTypeBrief(idx)}`);
      expectRank(idx, [1], 'indices');
      m = idx.shape[0];
    } else {
      const d = lastDim(x);
      const bad = fromAttr!.find((i) => !(Number.isInteger(i) && i >= 0 && i < d));
      if (bad !== undefined) typeError(`index ${bad} is outside the last axis [0, ${d})`);
      m = fromAttr!.length;
    }
    return [act([...x.shape.slice(0, -1), m])];
  },
  evaluate([x, idxT], attrs, [outT]) {
    const idx = idxT ? i32(idxT) : attrIndices(attrs)!;
    const d = lastDim(x.type);
    const m = idx.length;
    for (const i of idx) if (!(i >= 0 && i < d)) typeError(`gather index ${i} is outside the last axis [0, ${d})`);
    const out = alloc(outT);
    const o = f32(out);
    const xs = f32(x);
    const rows = numel(x.type.shape.slice(0, -1));
    for (let r = 0; r < rows; r++) for (let j = 0; j < m; j++) o[r * m + j] = xs[r * d + idx[j]];
    return [out];
  },
  cost(inputs: readonly TensorType[], outputs: readonly TensorType[]) {
    return streamingCost(inputs, outputs, 0);
  },
  // Scatter-add back to the gathered positions (an index may repeat); none for indices.
  vjp({ inputs: [x, idxT], attrs, outGrads: [g], wants }) {
    if (!g || !wants[0]) return [undefined, undefined];
    const idx = idxT ? i32(idxT) : attrIndices(attrs)!;
    const d = lastDim(x.type);
    const m = idx.length;
    const dx = new Float64Array(x.data.length);
    const rows = dx.length / d;
    for (let r = 0; r < rows; r++) for (let j = 0; j < m; j++) dx[r * d + idx[j]] += g[r * m + j];
    return [dx, undefined];
  },
});
