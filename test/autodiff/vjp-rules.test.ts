// Every VJP rule against central finite differences of the op's own `evaluate`, on
// random small shapes and values: <u, J v> from the rule vs (f(x + εv) − f(x − εv)) / 2ε
// with f = <u, outputs>, for random directions v (all float inputs at once) and
// output weights u.
import fc from 'fast-check';
import { describe, it } from 'vitest';
import type { Attrs } from '../../src/ir/graph.ts';
import { getOp } from '../../src/ir/op-registry.ts';
import type { Tensor } from '../../src/ir/tensor.ts';
import type { TensorType } from '../../src/ir/types.ts';
import '../../src/ir/ops/index.ts';
import { Prng } from '../../src/util/prng.ts';
import { dot, expectDirectional, uniform } from './fd.ts';

interface Case {
  readonly inputs: Tensor[];
  readonly attrs: Attrs;
}

const f32t = (shape: number[], data: Float32Array, memory?: 'image2d'): Tensor => ({ type: { dtype: 'f32', shape, ...(memory ? { memory } : {}) }, data });
const i32t = (shape: number[], data: number[]): Tensor => ({ type: { dtype: 'i32', shape }, data: Int32Array.from(data) });
const int = (r: Prng, lo: number, hi: number) => lo + Math.floor(r.float() * (hi - lo + 1));

// One random call per op kind (shapes and values from the seed).
const CASES: Record<string, (r: Prng) => Case> = {
  'nn.linear': (r) => {
    const [T, N, K] = [int(r, 1, 5), int(r, 1, 9), int(r, 1, 9)];
    const seq = r.float() < 0.7;
    const x = seq ? f32t([T, K], uniform(r, T * K)) : f32t([K], uniform(r, K));
    const ins = [x, f32t([N, K], uniform(r, N * K))];
    if (r.float() < 0.5) ins.push(f32t([N], uniform(r, N)));
    return { inputs: ins, attrs: {} };
  },
  'nn.embedding': (r) => {
    const [V, d, T] = [int(r, 1, 6), int(r, 1, 5), int(r, 1, 8)];
    return { inputs: [f32t([V, d], uniform(r, V * d)), i32t([T], Array.from({ length: T }, () => int(r, 0, V - 1)))], attrs: {} };
  },
  'nn.rms_norm': (r) => {
    const [T, d] = [int(r, 1, 4), int(r, 1, 8)];
    return { inputs: [f32t([T, d], uniform(r, T * d)), f32t([d], uniform(r, d, 0.5, 1.5))], attrs: { eps: 1e-5 } };
  },
  'tensor.split': (r) => {
    const sizes = Array.from({ length: int(r, 1, 3) }, () => int(r, 1, 4));
    const d = sizes.reduce((a, b) => a + b, 0);
    const T = int(r, 1, 3);
    return { inputs: [f32t([T, d], uniform(r, T * d))], attrs: { sizes } };
  },
  'tensor.gather': (r): Case => {
    const [T, d, m] = [int(r, 1, 3), int(r, 1, 6), int(r, 1, 8)];
    const idx = Array.from({ length: m }, () => int(r, 0, d - 1));
    const x = f32t([T, d], uniform(r, T * d));
    return r.float() < 0.5 ? { inputs: [x], attrs: { indices: idx } } : { inputs: [x, i32t([m], idx)], attrs: {} };
  },
  'ssm.conv1d': (r) => {
    const [L, e, k] = [int(r, 1, 6), int(r, 1, 4), int(r, 1, 4)];
    const ins = [f32t([e, k], uniform(r, e * k)), f32t([L, e], uniform(r, L * e)), f32t([e, k], uniform(r, e * k))];
    if (r.float() < 0.5) ins.push(f32t([e], uniform(r, e)));
    return { inputs: ins, attrs: {} };
  },
  'ssm.conv1d_step': (r) => {
    const [e, k] = [int(r, 1, 4), int(r, 1, 4)];
    return { inputs: [f32t([e, k], uniform(r, e * k)), f32t([e], uniform(r, e)), f32t([e, k], uniform(r, e * k)), f32t([e], uniform(r, e))], attrs: {} };
  },
  'ssm.scan': (r) => {
    const [L, e, s] = [int(r, 1, 6), int(r, 1, 4), int(r, 1, 4)];
    return { inputs: scanInputs(r, L, e, s, true), attrs: {} };
  },
  'ssm.scan_step': (r) => {
    const [e, s] = [int(r, 1, 4), int(r, 1, 4)];
    return { inputs: scanInputs(r, 1, e, s, false), attrs: {} };
  },
  'mem.to_image': (r) => {
    const [a, b] = [int(r, 1, 3), int(r, 1, 8)];
    return { inputs: [f32t([a, b], uniform(r, a * b))], attrs: {} };
  },
  'mem.to_buffer': (r) => {
    const [a, b] = [int(r, 1, 3), int(r, 1, 8)];
    return { inputs: [f32t([a, b], uniform(r, a * b), 'image2d')], attrs: {} };
  },
};
for (const k of ['ew.silu', 'ew.softplus', 'ew.exp', 'ew.neg']) {
  CASES[k] = (r) => {
    const [T, d] = [int(r, 1, 4), int(r, 1, 6)];
    return { inputs: [f32t([T, d], uniform(r, T * d, -3, 3))], attrs: {} };
  };
}
for (const k of ['ew.add', 'ew.sub', 'ew.mul']) {
  CASES[k] = (r) => {
    const [T, d] = [int(r, 1, 4), int(r, 1, 6)];
    const full = f32t([T, d], uniform(r, T * d));
    const other = r.float() < 0.5 ? f32t([T, d], uniform(r, T * d)) : f32t([d], uniform(r, d));
    return { inputs: r.float() < 0.5 ? [full, other] : [other, full], attrs: {} };
  };
}

function scanInputs(r: Prng, L: number, e: number, s: number, seq: boolean): Tensor[] {
  const sh = (a: number[]) => (seq ? [L, ...a] : a);
  return [
    f32t([e, s], uniform(r, e * s)),
    f32t(sh([e]), uniform(r, L * e)),
    f32t(sh([e]), uniform(r, L * e, 0.05, 1)),
    f32t([e, s], uniform(r, e * s, -2, -0.1)),
    f32t(sh([s]), uniform(r, L * s)),
    f32t(sh([s]), uniform(r, L * s)),
  ];
}

function run(kind: string, inputs: readonly Tensor[], attrs: Attrs): Tensor[] {
  const def = getOp(kind);
  const types: TensorType[] = def.infer(inputs.map((t) => t.type), attrs);
  return def.evaluate(inputs, attrs, types, { runRegion: () => [] });
}

describe('VJP rules match finite differences', () => {
  for (const [kind, make] of Object.entries(CASES)) {
    it(kind, () => {
      fc.assert(
        fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), (seed) => {
          const r = new Prng(seed, kind);
          const { inputs, attrs } = make(r);
          const outs = run(kind, inputs, attrs);
          const u = outs.map((o) => uniform(r, o.data.length));
          const wants = inputs.map((t) => t.type.dtype !== 'i32');
          const grads = getOp(kind).vjp!({ inputs, outputs: outs, attrs, outGrads: u.map((x) => Float64Array.from(x)), wants });
          const v = inputs.map((t) => (t.type.dtype === 'i32' ? undefined : uniform(r, t.data.length)));
          let analytic = 0;
          inputs.forEach((_, i) => {
            if (v[i]) analytic += dot(grads[i] ?? new Float64Array(v[i]!.length), v[i]!);
          });
          const eps = 1e-3;
          const f = (sign: number) => {
            const moved = inputs.map((t, i) => (v[i] ? { type: t.type, data: Float32Array.from(t.data, (x, j) => x + sign * eps * v[i]![j]) } : t));
            return run(kind, moved, attrs).reduce((acc, o, k) => acc + dot(o.data, u[k]), 0);
          };
          expectDirectional(f, eps, analytic, `${kind} seed ${seed}`);
        }),
        { numRuns: 60 },
      );
    });
  }

  it('covers every op the Mamba sequence graph uses, and more', () => {
    const mamba = ['nn.embedding', 'nn.rms_norm', 'nn.linear', 'tensor.split', 'ssm.conv1d', 'ew.silu', 'ew.softplus', 'ssm.scan', 'ew.mul', 'ew.add'];
    for (const k of mamba) if (!getOp(k).vjp || !CASES[k]) throw new Error(`${k} lacks a rule or a test`);
  });
});
