import { defineOp, intsAttr, typeError } from '../op-registry.ts';
import { alloc, f32 } from '../tensor.ts';
import { act, expectFloat, expectRank } from './check.ts';
import { streamingCost } from '../op-registry.ts';

/** Splits the last axis into consecutive pieces of the given sizes. */
export const split = defineOp({
  kind: 'tensor.split',
  description: 'split the last axis into consecutive parts of `sizes`',
  fusion: 'injective',
  inputs: ['x'],
  attrs: { sizes: { kind: 'ints', required: true } },
  infer([x], attrs) {
    expectFloat(x, 'x');
    expectRank(x, [1, 2], 'x');
    const sizes = intsAttr(attrs, 'sizes');
    if (sizes.length < 1) typeError('sizes must not be empty');
    if (sizes.some((s) => s <= 0)) typeError(`sizes must be positive, got [${sizes}]`);
    const total = sizes.reduce((a, b) => a + b, 0);
    const d = x.shape[x.shape.length - 1];
    if (total !== d) typeError(`sizes [${sizes}] sum to ${total}, last axis is ${d}`);
    return sizes.map((s) => act([...x.shape.slice(0, -1), s]));
  },
  evaluate([x], attrs, outTypes) {
    const sizes = intsAttr(attrs, 'sizes');
    const xs = f32(x);
    const d = x.type.shape[x.type.shape.length - 1];
    const rows = xs.length / d;
    let start = 0;
    return outTypes.map((t, i) => {
      const out = alloc(t);
      const o = f32(out);
      const s = sizes[i];
      for (let r = 0; r < rows; r++) o.set(xs.subarray(r * d + start, r * d + start + s), r * s);
      start += s;
      return out;
    });
  },
  cost(inputs, outputs) {
    return streamingCost(inputs, outputs, 0);
  },
  // The parts' gradients side by side again (a part off the loss path is zero).
  vjp({ inputs: [x], attrs, outGrads, wants }) {
    if (!wants[0]) return [undefined];
    const sizes = intsAttr(attrs, 'sizes');
    const d = x.type.shape[x.type.shape.length - 1];
    const dx = new Float64Array(x.data.length);
    const rows = dx.length / d;
    let start = 0;
    sizes.forEach((s, i) => {
      const g = outGrads[i];
      if (g) for (let r = 0; r < rows; r++) for (let j = 0; j < s; j++) dx[r * d + start + j] = g[r * s + j];
      start += s;
    });
    return [dx];
  },
});

