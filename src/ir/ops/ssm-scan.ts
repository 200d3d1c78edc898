// The selective scan with explicit state (Mamba-1, real A):
//   state[c, j] = exp(dt[c] * A[c, j]) * state[c, j] + dt[c] * x[c] * B[j]
//   y[c]        = sum_j state[c, j] * C[j]
// Each step computes in f64 and stores the new state in f32; y sums j ascending over
// the stored (f32) state. `ssm.scan` is exactly `ssm.scan_step` token by token.
import { defineOp, streamingCost, typeError } from '../op-registry.ts';
import type { VjpArgs } from '../op-registry.ts';
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

// Reverse mode, one channel c at a time: the states S_t (as the forward stored them,
// f32-rounded) are recomputed into an (L+1)×s buffer rather than kept from the forward,
// then swept back. With a_t = exp(dt_t A_j) and S_t = a_t S_{t-1} + dt_t x_t B_tj:
// dS_t += g_t C_tj; dC_tj += g_t S_tj; dA_j += dS_t S_{t-1} dt_t a_t;
// ddt_t += dS_t (S_{t-1} A_j a_t + x_t B_tj); dx_t += dS_t dt_t B_tj; dB_tj += dS_t dt_t x_t;
// and dS_{t-1} = dS_t a_t.
function vjpScan({ inputs, outGrads: [gy, gs], wants }: VjpArgs): (Float64Array | undefined)[] {
  const [state, x, dt, A, B, C] = inputs.map(f32);
  const [e, s] = inputs[3].type.shape;
  const L = x.length / e;
  const out = wants.map((w, i) => (w ? new Float64Array(inputs[i].data.length) : undefined));
  const [dState, dx, ddt, dA, dB, dC] = out;
  const S = new Float64Array((L + 1) * s);
  const a = new Float64Array(L * s);
  const dS = new Float64Array(s);
  for (let c = 0; c < e; c++) {
    const r = c * s;
    for (let j = 0; j < s; j++) S[j] = state[r + j];
    for (let t = 0; t < L; t++) {
      const d = dt[t * e + c];
      const dxv = d * x[t * e + c];
      const bo = t * s;
      for (let j = 0; j < s; j++) {
        const at = Math.exp(d * A[r + j]);
        a[bo + j] = at;
        S[bo + s + j] = Math.fround(at * S[bo + j] + dxv * B[bo + j]);
      }
    }
    for (let j = 0; j < s; j++) dS[j] = gs ? gs[r + j] : 0;
    for (let t = L - 1; t >= 0; t--) {
      const xi = t * e + c;
      const g = gy ? gy[xi] : 0;
      const d = dt[xi];
      const xv = x[xi];
      const bo = t * s;
      let gdt = 0;
      let gx = 0;
      for (let j = 0; j < s; j++) {
        const St = S[bo + s + j];
        let ds = dS[j];
        if (g !== 0) {
          ds += g * C[bo + j];
          if (dC) dC[bo + j] += g * St;
        }
        const at = a[bo + j];
        const Sp = S[bo + j];
        const Aj = A[r + j];
        const Bj = B[bo + j];
        if (dA) dA[r + j] += ds * Sp * d * at;
        gdt += ds * (Sp * Aj * at + xv * Bj);
        gx += ds * d * Bj;
        if (dB) dB[bo + j] += ds * d * xv;
        dS[j] = ds * at;
      }
      if (ddt) ddt[xi] = gdt;
      if (dx) dx[xi] = gx;
    }
    if (dState) for (let j = 0; j < s; j++) dState[r + j] = dS[j];
  }
  return out;
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
  vjp: vjpScan,
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
  vjp: vjpScan,
});
