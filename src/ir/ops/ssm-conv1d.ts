// Causal depthwise conv over time with explicit state. The state holds the last k
// pre-conv inputs (oldest first), so a step shifts it left, appends x, and takes
// y[c] = sum_j w[c, j] * state[c, j] + b[c] (f64 sum, j ascending, optional bias last).
// `ssm.conv1d` over a sequence is exactly `ssm.conv1d_step` applied token by token.
import { defineOp, streamingCost, typeError } from '../op-registry.ts';
import type { VjpArgs } from '../op-registry.ts';
import type { Tensor } from '../tensor.ts';
import { alloc, f32 } from '../tensor.ts';
import type { TensorType } from '../types.ts';
import { act, expectFloat, expectRank, expectShape } from './check.ts';

function inferConv(state: TensorType, x: TensorType, w: TensorType, b: TensorType | undefined, seq: boolean): TensorType[] {
  for (const [t, n] of [[state, 'state'], [x, 'x'], [w, 'weight']] as const) expectFloat(t, n);
  expectRank(w, [2], 'weight');
  const [e, k] = w.shape;
  if (k < 1) typeError('kernel width must be >= 1');
  expectShape(state, [e, k], 'state');
  if (b) {
    expectFloat(b, 'bias');
    expectShape(b, [e], 'bias');
  }
  if (seq) {
    expectRank(x, [2], 'x');
    if (x.shape[1] !== e) typeError(`x has ${x.shape[1]} channels, weight has ${e}`);
  } else {
    expectShape(x, [e], 'x');
  }
  return [act(x.shape), act([e, k])];
}

function evalConv(state: Tensor, x: Tensor, w: Tensor, b: Tensor | undefined, outTypes: readonly TensorType[]): Tensor[] {
  const [e, k] = w.type.shape;
  const y = alloc(outTypes[0]);
  const st = alloc(outTypes[1]);
  const win = f32(st);
  win.set(f32(state));
  const xs = f32(x);
  const W = f32(w);
  const B = b ? f32(b) : undefined;
  const ys = f32(y);
  const L = xs.length / e;
  for (let t = 0; t < L; t++) {
    for (let c = 0; c < e; c++) {
      const r = c * k;
      for (let j = 0; j < k - 1; j++) win[r + j] = win[r + j + 1];
      win[r + k - 1] = xs[t * e + c];
      let acc = 0;
      for (let j = 0; j < k; j++) acc += W[r + j] * win[r + j];
      ys[t * e + c] = B ? acc + B[c] : acc;
    }
  }
  return [y, st];
}

// Reverse mode. Per channel, the inputs seen are u = [state[0..k), x[0..L)], the
// window at token t is u[t+1 .. t+k] and the final state is u[L .. L+k): so
// du[t+1+j] += w[j] g[t], dw[j] += g[t] u[t+1+j], and the final state's gradient lands
// on u[L+j]. state[0] falls out of the window at once (its gradient is zero).
function vjpConv({ inputs: [state, x, w, b], outGrads: [gy, gs], wants }: VjpArgs): (Float64Array | undefined)[] {
  const [e, k] = w.type.shape;
  const st = f32(state);
  const xs = f32(x);
  const W = f32(w);
  const L = xs.length / e;
  const dState = wants[0] ? new Float64Array(e * k) : undefined;
  const dx = wants[1] ? new Float64Array(xs.length) : undefined;
  const dw = wants[2] ? new Float64Array(e * k) : undefined;
  const db = b && wants[3] ? new Float64Array(e) : undefined;
  const n = k + L;
  const u = new Float64Array(n);
  const du = new Float64Array(n);
  for (let c = 0; c < e; c++) {
    const r = c * k;
    for (let p = 0; p < k; p++) u[p] = st[r + p];
    for (let t = 0; t < L; t++) u[k + t] = xs[t * e + c];
    du.fill(0);
    if (gs) for (let j = 0; j < k; j++) du[L + j] += gs[r + j];
    if (gy) {
      for (let t = 0; t < L; t++) {
        const g = gy[t * e + c];
        if (g === 0) continue;
        for (let j = 0; j < k; j++) {
          du[t + 1 + j] += W[r + j] * g;
          if (dw) dw[r + j] += g * u[t + 1 + j];
        }
        if (db) db[c] += g;
      }
    }
    if (dState) for (let p = 0; p < k; p++) dState[r + p] = du[p];
    if (dx) for (let t = 0; t < L; t++) dx[t * e + c] = du[k + t];
  }
  return [dState, dx, dw, db];
}

export const conv1dStep = defineOp({
  kind: 'ssm.conv1d_step',
  sequenceForm: 'ssm.conv1d',
  description: 'one token of the causal depthwise conv: (state[e,k], x[e], w[e,k], b[e]) -> (y[e], state[e,k])',
  fusion: 'reduction',
  inputs: ['state', 'x', 'weight', 'bias?'],
  attrs: {},
  infer: ([s, x, w, b]) => inferConv(s, x, w, b, false),
  evaluate: ([s, x, w, b], _a, outTypes) => evalConv(s, x, w, b, outTypes),
  cost: (i, o) => streamingCost(i, o, 2 * i[2].shape[0] * i[2].shape[1]),
  vjp: vjpConv,
});

export const conv1d = defineOp({
  kind: 'ssm.conv1d',
  description: 'causal depthwise conv over a sequence: (state[e,k], x[L,e], w[e,k], b[e]) -> (y[L,e], state[e,k])',
  fusion: 'opaque',
  inputs: ['state', 'x', 'weight', 'bias?'],
  attrs: {},
  infer: ([s, x, w, b]) => inferConv(s, x, w, b, true),
  evaluate: ([s, x, w, b], _a, outTypes) => evalConv(s, x, w, b, outTypes),
  cost: (i, o) => streamingCost(i, o, 2 * i[1].shape[0] * i[2].shape[0] * i[2].shape[1]),
  vjp: vjpConv,
});
