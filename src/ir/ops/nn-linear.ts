import { defineOp, typeError } from '../op-registry.ts';
import { alloc, f32 } from '../tensor.ts';
import { act, expectFloat, expectRank, expectShape, lastDim } from './check.ts';
import { dtypeBytes, numel } from '../types.ts';

/**
 * y[..., n] = sum_k x[..., k] * W[n, k] (+ bias[n]).
 * Accumulation: one f64 accumulator per output, k ascending, bias added last, then
 * rounded to f32. Weights may be stored f16/bf16 (converted exactly to f32 first).
 */
export const linear = defineOp({
  kind: 'nn.linear',
  description: 'y = x W^T (+ b); W is [out, in], x is [in] or [T, in]',
  fusion: 'reduction',
  inputs: ['x', 'weight', 'bias?'],
  attrs: {},
  infer([x, w, b]) {
    expectFloat(x, 'x');
    expectRank(x, [1, 2], 'x');
    expectFloat(w, 'weight');
    expectRank(w, [2], 'weight');
    const [N, K] = w.shape;
    if (lastDim(x) !== K) typeError(`x has ${lastDim(x)} features, weight [${N},${K}] expects ${K}`);
    if (b) {
      expectFloat(b, 'bias');
      expectShape(b, [N], 'bias');
    }
    return [act([...x.shape.slice(0, -1), N])];
  },
  evaluate([x, w, b], _attrs, [outT]) {
    const out = alloc(outT);
    const o = f32(out);
    const xs = f32(x);
    const W = f32(w);
    const bias = b ? f32(b) : undefined;
    const [N, K] = w.type.shape;
    const T = xs.length / K;
    // Row-outer order keeps one weight row hot across all T tokens.
    for (let n = 0; n < N; n++) {
      const row = n * K;
      const bn = bias ? bias[n] : 0;
      for (let t = 0; t < T; t++) {
        const xo = t * K;
        let acc = 0;
        for (let k = 0; k < K; k++) acc += xs[xo + k] * W[row + k];
        o[t * N + n] = acc + bn;
      }
    }
    return [out];
  },
  cost([x, w, b], [y]) {
    const [N, K] = w.shape;
    const T = numel(x.shape) / K;
    const bytes = numel(w.shape) * dtypeBytes(w.dtype) + (b ? N * dtypeBytes(b.dtype) : 0) + numel(x.shape) * 4 + numel(y.shape) * 4;
    return { bytes, flops: 2 * N * K * T };
  },
});
