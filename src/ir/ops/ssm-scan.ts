// The selective scan with explicit state (Mamba-1, real A):
//   state[c, j] = exp(dt[c] * A[c, j]) * state[c, j] + dt[c] * x[c] * B[j]
//   y[c]        = sum_j state[c, j] * C[j]
// Each step computes in f64 and stores the new state in f32; y sums j ascending over
// the stored (f32) state. `ssm.scan` is exactly `ssm.scan_step` token by token.
import { defineOp, streamingCost, typeError } from '../op-registry.ts';
import type { Tensor } from '../tensor.ts';
import { alloc, f32 } from '../tensor.ts';
import type { TensorType } from '../types.ts';
import { act, expectFloat, expectRank, expectShape } from './check.ts';

const NAMES = ['state', 'x', 'dt', 'A', 'B', 'C'] as const;

function inferScan(ts: readonly TensorType[], seq: boolean): TensorType[] {
  ts.forEach((t, i) => expectFloat(t, NAMES[i]));
  const [state, x, dt, A, B, C] = ts;
  expectRank(A, [2], 'A');
  const [e, s] = A.shape;
  expectShape(state, [e, s], 'state');
  if (seq) {
    expectRank(x, [2], 'x');
    const L = x.shape[0];
    expectShape(x, [L, e], 'x');
    expectShape(dt, [L, e], 'dt');
    expectShape(B, [L, s], 'B');
    expectShape(C, [L, s], 'C');
  } else {
    expectShape(x, [e], 'x');
    expectShape(dt, [e], 'dt');
    expectShape(B, [s], 'B');
    expectShape(C, [s], 'C');
  }
  if (e < 1 || s < 1) typeError('A must be non-empty');
  return [act(x.shape), act([e, s])];
}

function evalScan(ins: readonly Tensor[], outTypes: readonly TensorType[]): Tensor[] {
  const [state, x, dt, A, B, C] = ins.map(f32);
  const [e, s] = ins[3].type.shape;
  const y = alloc(outTypes[0]);
  const st = alloc(outTypes[1]);
  const S = f32(st);
  S.set(state);
  const ys = f32(y);
  const L = x.length / e;
  for (let t = 0; t < L; t++) {
    const xo = t * e;
    const bo = t * s;
    for (let c = 0; c < e; c++) {
      const d = dt[xo + c];
      const dx = d * x[xo + c];
      const r = c * s;
      let acc = 0;
      for (let j = 0; j < s; j++) {
        const v = Math.fround(Math.exp(d * A[r + j]) * S[r + j] + dx * B[bo + j]);
        S[r + j] = v;
        acc += v * C[bo + j];
      }
      ys[xo + c] = acc;
    }
  }
  return [y, st];
}

export const scanStep = defineOp({
  kind: 'ssm.scan_step',
  sequenceForm: 'ssm.scan',
  description: 'one token of the selective scan: (state[e,s], x[e], dt[e], A[e,s], B[s], C[s]) -> (y[e], state[e,s])',
  fusion: 'reduction',
  inputs: [...NAMES],
  attrs: {},
  infer: (ts) => inferScan(ts, false),
  evaluate: (ins, _a, outTypes) => evalScan(ins, outTypes),
  cost: (i, o) => streamingCost(i, o, 7 * i[3].shape[0] * i[3].shape[1]),
});

export const scan = defineOp({
  kind: 'ssm.scan',
  description: 'selective scan over a sequence: (state[e,s], x[L,e], dt[L,e], A[e,s], B[L,s], C[L,s]) -> (y[L,e], state[e,s])',
  fusion: 'opaque',
  inputs: [...NAMES],
  attrs: {},
  infer: (ts) => inferScan(ts, true),
  evaluate: (ins, _a, outTypes) => evalScan(ins, outTypes),
  cost: (i, o) => streamingCost(i, o, 7 * i[1].shape[0] * i[3].shape[0] * i[3].shape[1]),
});
