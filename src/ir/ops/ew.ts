// Elementwise ops as a table: each entry is the scalar function that defines it.
// Binary ops broadcast a trailing-suffix shape (x[T,e] op D[e]); outputs are f32.
import { defineOp, streamingCost, typeError } from '../op-registry.ts';
import type { OpDef } from '../op-registry.ts';
import { alloc, f32 } from '../tensor.ts';
import type { TensorType } from '../types.ts';
import { formatTypeBrief, numel, shapeEqual } from '../types.ts';
import { act, expectFloat } from './check.ts';

/** PyTorch's softplus: log(1 + e^v), and v itself above the threshold 20. */
export function softplus(v: number): number {
  return v > 20 ? v : Math.log1p(Math.exp(v));
}

export function silu(v: number): number {
  return v / (1 + Math.exp(-v));
}

function sigmoid(v: number): number {
  return 1 / (1 + Math.exp(-v));
}

// `grad(v, y)` is dy/dv at input v with output y (the reverse-mode rule).
const UNARY: Record<string, { fn: (v: number) => number; grad: (v: number, y: number) => number; flops: number; doc: string }> = {
  'ew.silu': { fn: silu, grad: (v) => { const s = sigmoid(v); return s * (1 + v * (1 - s)); }, flops: 4, doc: 'v * sigmoid(v)' },
  'ew.softplus': { fn: softplus, grad: (v) => (v > 20 ? 1 : sigmoid(v)), flops: 4, doc: 'log(1 + exp(v)); v when v > 20' },
  'ew.exp': { fn: Math.exp, grad: (_v, y) => y, flops: 1, doc: 'exp(v)' },
  'ew.neg': { fn: (v) => -v, grad: () => -1, flops: 1, doc: '-v' },
};

// `da`/`db`: the partial derivatives at (a, b).
const BINARY: Record<string, { fn: (a: number, b: number) => number; da: (a: number, b: number) => number; db: (a: number, b: number) => number; doc: string }> = {
  'ew.add': { fn: (a, b) => a + b, da: () => 1, db: () => 1, doc: 'a + b' },
  'ew.sub': { fn: (a, b) => a - b, da: () => 1, db: () => -1, doc: 'a - b' },
  'ew.mul': { fn: (a, b) => a * b, da: (_a, b) => b, db: (a) => a, doc: 'a * b' },
};

/** True when `short` is a trailing suffix of `long` (the broadcast rule). */
export function isSuffix(short: readonly number[], long: readonly number[]): boolean {
  return short.length <= long.length && short.every((d, i) => d === long[long.length - short.length + i]);
}

function broadcastShape(a: TensorType, b: TensorType): number[] {
  if (isSuffix(b.shape, a.shape)) return [...a.shape];
  if (isSuffix(a.shape, b.shape)) return [...b.shape];
  return typeError(`shapes ${formatTypeBrief(a)} and ${formatTypeBrief(b)} do not broadcast (one must be a trailing suffix of the other)`);
}

export const unaryOps: OpDef[] = Object.entries(UNARY).map(([kind, { fn, grad, flops, doc }]) =>
  defineOp({
    kind,
    description: doc,
    fusion: 'elementwise',
    inputs: ['x'],
    attrs: {},
    infer([x]) {
      expectFloat(x, 'x');
      return [act(x.shape)];
    },
    evaluate([x], _attrs, [outT]) {
      const out = alloc(outT);
      const o = f32(out);
      const xs = f32(x);
      for (let i = 0; i < xs.length; i++) o[i] = fn(xs[i]);
      return [out];
    },
    cost(inputs, outputs) {
      return streamingCost(inputs, outputs, flops * numel(outputs[0].shape));
    },
    vjp({ inputs: [x], outputs: [y], outGrads: [g], wants }) {
      if (!g || !wants[0]) return [undefined];
      const xs = f32(x);
      const ys = f32(y);
      const dx = new Float64Array(xs.length);
      for (let i = 0; i < xs.length; i++) dx[i] = g[i] * grad(xs[i], ys[i]);
      return [dx];
    },
  }),
);

export const binaryOps: OpDef[] = Object.entries(BINARY).map(([kind, { fn, da, db, doc }]) =>
  defineOp({
    kind,
    description: `${doc} (trailing-suffix broadcast)`,
    fusion: 'elementwise',
    inputs: ['a', 'b'],
    attrs: {},
    infer([a, b]) {
      expectFloat(a, 'a');
      expectFloat(b, 'b');
      return [act(broadcastShape(a, b))];
    },
    evaluate([a, b], _attrs, [outT]) {
      const out = alloc(outT);
      const o = f32(out);
      const as = f32(a);
      const bs = f32(b);
      const n = o.length;
      if (shapeEqual(a.type.shape, b.type.shape)) {
        for (let i = 0; i < n; i++) o[i] = fn(as[i], bs[i]);
      } else {
        const na = as.length;
        const nb = bs.length;
        for (let i = 0; i < n; i++) o[i] = fn(as[i % na], bs[i % nb]);
      }
      return [out];
    },
    cost(inputs, outputs) {
      return streamingCost(inputs, outputs, numel(outputs[0].shape));
    },
    // The broadcast operand's gradient sums over the positions it was repeated to.
    vjp({ inputs: [a, b], outGrads: [g], wants }) {
      if (!g) return [undefined, undefined];
      const as = f32(a);
      const bs = f32(b);
      const na = as.length;
      const nb = bs.length;
      const ga = wants[0] ? new Float64Array(na) : undefined;
      const gb = wants[1] ? new Float64Array(nb) : undefined;
      for (let i = 0; i < g.length; i++) {
        const x = as[i % na];
        const y = bs[i % nb];
        if (ga) ga[i % na] += g[i] * da(x, y);
        if (gb) gb[i % nb] += g[i] * db(x, y);
      }
      return [ga, gb];
    },
  }),
);
