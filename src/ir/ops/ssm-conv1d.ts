// Causal depthwise conv over time with explicit state. The state holds the last k
// pre-conv inputs (oldest first), so a step shifts it left, appends x, and takes
// y[c] = sum_j w[c, j] * state[c, j] + b[c] (f64 sum, j ascending, optional bias last).
// `ssm.conv1d` over a sequence is exactly `ssm.conv1d_step` applied token by token.
import { defineOp, streamingCost, typeError } from '../op-registry.ts';
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
});
