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
    // Four independent dot products per inner loop (four tokens of one row, or four
    // rows for one token): each still sums k ascending in its own f64 accumulator,
    // so the result is exactly the plain definition, just with fewer loads.
    let n0 = 0;
    if (T === 1) {
      for (; n0 + 4 <= N; n0 += 4) {
        const r0 = n0 * K, r1 = r0 + K, r2 = r1 + K, r3 = r2 + K;
        let a0 = 0, a1 = 0, a2 = 0, a3 = 0;
        for (let k = 0; k < K; k++) {
          const x = xs[k];
          a0 += x * W[r0 + k];
          a1 += x * W[r1 + k];
          a2 += x * W[r2 + k];
          a3 += x * W[r3 + k];
        }
        o[n0] = a0 + (bias ? bias[n0] : 0);
        o[n0 + 1] = a1 + (bias ? bias[n0 + 1] : 0);
        o[n0 + 2] = a2 + (bias ? bias[n0 + 2] : 0);
        o[n0 + 3] = a3 + (bias ? bias[n0 + 3] : 0);
      }
    }
    for (let n = n0; n < N; n++) {
      const row = n * K;
      const bn = bias ? bias[n] : 0;
      let t = 0;
      for (; t + 4 <= T; t += 4) {
        const x0 = t * K, x1 = x0 + K, x2 = x1 + K, x3 = x2 + K;
        let a0 = 0, a1 = 0, a2 = 0, a3 = 0;
        for (let k = 0; k < K; k++) {
          const w = W[row + k];
          a0 += xs[x0 + k] * w;
          a1 += xs[x1 + k] * w;
          a2 += xs[x2 + k] * w;
          a3 += xs[x3 + k] * w;
        }
        o[t * N + n] = a0 + bn;
        o[(t + 1) * N + n] = a1 + bn;
        o[(t + 2) * N + n] = a2 + bn;
        o[(t + 3) * N + n] = a3 + bn;
      }
      for (; t < T; t++) {
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
  // dx = g W and dW = gᵀ x, each computed as dot products of contiguous rows (of the
  // transposed operands) four outputs at a time, f64 sums: the forward's loop shape,
  // which is ~2x faster in V8 than scattering axpys into the gradient.
  vjp({ inputs: [x, w, b], outGrads: [g], wants }) {
    if (!g) return [undefined, undefined, undefined];
    const xs = f32(x);
    const W = f32(w);
    const [N, K] = w.type.shape;
    const T = xs.length / K;
    let dx: Float64Array | undefined;
    if (wants[0]) {
      dx = new Float64Array(xs.length);
      dotRows(g, T, transpose(W, N, K), K, N, dx);
    }
    let dW: Float64Array | undefined;
    if (wants[1]) {
      dW = new Float64Array(N * K);
      dotRows(transpose(g, T, N), N, transpose(xs, T, K), K, T, dW);
    }
    let db: Float64Array | undefined;
    if (b && wants[2]) {
      db = new Float64Array(N);
      for (let t = 0; t < T; t++) for (let n = 0; n < N; n++) db[n] += g[t * N + n];
    }
    return [dx, dW, db];
  },
});

/** rows×cols → cols×rows (f64). */
function transpose(a: ArrayLike<number>, rows: number, cols: number): Float64Array {
  const out = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = a[r * cols + c];
  return out;
}

/** out[i, j] = Σ_l A[i, l] B[j, l] for A: m×len, B: n×len (out: m×n), four j at a time. */
function dotRows(A: ArrayLike<number>, m: number, B: ArrayLike<number>, n: number, len: number, out: Float64Array): void {
  for (let i = 0; i < m; i++) {
    const ao = i * len;
    let j = 0;
    for (; j + 4 <= n; j += 4) {
      const b0 = j * len, b1 = b0 + len, b2 = b1 + len, b3 = b2 + len;
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      for (let l = 0; l < len; l++) {
        const a = A[ao + l];
        s0 += a * B[b0 + l];
        s1 += a * B[b1 + l];
        s2 += a * B[b2 + l];
        s3 += a * B[b3 + l];
      }
      out[i * n + j] = s0;
      out[i * n + j + 1] = s1;
      out[i * n + j + 2] = s2;
      out[i * n + j + 3] = s3;
    }
    for (; j < n; j++) {
      const bo = j * len;
      let acc = 0;
      for (let l = 0; l < len; l++) acc += A[ao + l] * B[bo + l];
      out[i * n + j] = acc;
    }
  }
}
