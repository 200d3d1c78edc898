import { defineOp, floatAttr, typeError } from '../op-registry.ts';
import { alloc, f32 } from '../tensor.ts';
import { act, expectFloat, expectRank, expectShape, lastDim } from './check.ts';
import { streamingCost } from '../op-registry.ts';
import { numel } from '../types.ts';

/**
 * y = x / sqrt(mean(x^2) + eps) * w over the last axis. The mean is an f64 sum in
 * ascending order divided by d; the scale is applied in f64, then rounded to f32.
 */
export const rmsNorm = defineOp({
  kind: 'nn.rms_norm',
  description: 'RMSNorm over the last axis with a learned scale',
  fusion: 'reduction',
  inputs: ['x', 'weight'],
  attrs: { eps: { kind: 'float', required: true, doc: 'added to the mean square' } },
  infer([x, w], attrs) {
    expectFloat(x, 'x');
    expectRank(x, [1, 2], 'x');
    expectFloat(w, 'weight');
    expectShape(w, [lastDim(x)], 'weight');
    if (!(floatAttr(attrs, 'eps') >= 0)) typeError('eps must be >= 0');
    return [act(x.shape)];
  },
  evaluate([x, w], attrs, [outT]) {
    const out = alloc(outT);
    const o = f32(out);
    const xs = f32(x);
    const ws = f32(w);
    const eps = floatAttr(attrs, 'eps');
    const d = ws.length;
    for (let r = 0; r < xs.length; r += d) {
      let ss = 0;
      for (let i = 0; i < d; i++) ss += xs[r + i] * xs[r + i];
      const scale = 1 / Math.sqrt(ss / d + eps);
      for (let i = 0; i < d; i++) o[r + i] = xs[r + i] * scale * ws[i];
    }
    return [out];
  },
  cost(inputs, outputs) {
    return streamingCost(inputs, outputs, 4 * numel(inputs[0].shape));
  },
  // With s = (mean(x²) + eps)^-1/2: dx_i = s w_i g_i − x_i s³/d Σ_j g_j w_j x_j,
  // dw_i = Σ_rows g_i x_i s.
  vjp({ inputs: [x, w], attrs, outGrads: [g], wants }) {
    if (!g) return [undefined, undefined];
    const xs = f32(x);
    const ws = f32(w);
    const eps = floatAttr(attrs, 'eps');
    const d = ws.length;
    const dx = wants[0] ? new Float64Array(xs.length) : undefined;
    const dw = wants[1] ? new Float64Array(d) : undefined;
    for (let r = 0; r < xs.length; r += d) {
      let ss = 0;
      let gwx = 0;
      for (let i = 0; i < d; i++) {
        const v = xs[r + i];
        ss += v * v;
        gwx += g[r + i] * ws[i] * v;
      }
      const s = 1 / Math.sqrt(ss / d + eps);
      if (dw) for (let i = 0; i < d; i++) dw[i] += g[r + i] * xs[r + i] * s;
      if (dx) {
        const c = (s * s * s * gwx) / d;
        for (let i = 0; i < d; i++) dx[r + i] = s * ws[i] * g[r + i] - xs[r + i] * c;
      }
    }
    return [dx, dw];
  },
});
