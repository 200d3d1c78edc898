// Small random Mamba checkpoints for property tests (independent of the synth code).
import fc from 'fast-check';
import type { Checkpoint, MambaConfig } from '../../src/frontend/checkpoint.ts';
import { expectedTensors } from '../../src/frontend/checkpoint.ts';
import type { RawTensor } from '../../src/frontend/raw-tensor.ts';
import { Prng } from '../../src/util/prng.ts';

/** A tiny seeded uniform [0, 1) source for test data. */
export function lcg(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/**
 * Random f32 weights for `c`, deterministic from the seed, in realistic ranges (norm
 * scales near 1, dt biases giving small dt). A comes from an f32 A_log, as in every
 * real checkpoint: an arbitrary f32 A is not always reachable through f32(-exp(A_log)),
 * so an HF round trip of these weights is exact.
 */
export function randomCheckpoint(c: MambaConfig, seed: number): Checkpoint {
  const rng = new Prng(seed, 'random-model');
  const tensors = new Map<string, RawTensor>();
  for (const [name, shape] of expectedTensors(c)) {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    const fanIn = shape.length === 2 ? shape[1] : 1;
    for (let i = 0; i < n; i++) {
      if (name.endsWith('.A')) data[i] = -Math.exp(Math.fround(Math.log(1 + (i % c.dState)) + rng.uniform(-0.7, 0.4)));
      else if (name.endsWith('norm') || name === 'norm_f') data[i] = rng.uniform(0.5, 1.5);
      else if (name.endsWith('dt_proj.bias')) data[i] = rng.uniform(-4, -1);
      else data[i] = rng.uniform(-1, 1) / Math.sqrt(fanIn);
    }
    tensors.set(name, { dtype: 'f32', shape, data });
  }
  return { format: 'synthetic', config: c, tensors, source: `<random seed ${seed}>` };
}

export const arbConfig: fc.Arbitrary<MambaConfig> = fc
  .record({
    dModel: fc.integer({ min: 2, max: 12 }),
    nLayer: fc.integer({ min: 1, max: 3 }),
    vocabSize: fc.integer({ min: 2, max: 20 }),
    dState: fc.integer({ min: 1, max: 6 }),
    dConv: fc.integer({ min: 1, max: 4 }),
    expand: fc.integer({ min: 1, max: 2 }),
    dtRank: fc.integer({ min: 1, max: 4 }),
    tiedHead: fc.boolean(),
    convBias: fc.boolean(),
    projBias: fc.boolean(),
  })
  .map((r) => ({ ...r, dInner: r.expand * r.dModel, normEps: 1e-5 }));
