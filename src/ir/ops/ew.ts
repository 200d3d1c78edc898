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

const UNARY: Record<string, { fn: (v: number) => number; flops: number; doc: string }> = {
  'ew.silu': { fn: silu, flops: 4, doc: 'v * sigmoid(v)' },
  'ew.softplus': { fn: softplus, flops: 4, doc: 'log(1 + exp(v)); v when v > 20' },
  'ew.exp': { fn: Math.exp, flops: 1, doc: 'exp(v)' },
  'ew.neg': { fn: (v) => -v, flops: 1, doc: '-v' },
};

const BINARY: Record<string, { fn: (a: number, b: number) => number; doc: string }> = {
  'ew.add': { fn: (a, b) => a + b, doc: 'a + b' },
  'ew.sub': { fn: (a, b) => a - b, doc: 'a - b' },
  'ew.mul': { fn: (a, b) => a * b, doc: 'a * b' },
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

export const unaryOps: OpDef[] = Object.entries(UNARY).map(([kind, { fn, flops, doc }]) =>
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
  }),
);

export const binaryOps: OpDef[] = Object.entries(BINARY).map(([kind, { fn, doc }]) =>
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
  }),
);
