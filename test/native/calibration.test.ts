// The native graph executor as the Calibrator's runner: on random Mamba models (decode
// graphs lifted to windows) every statistic equals the interpreter's up to f32 rounding
// (f32 GEMMs and a polynomial exp instead of f64 accumulation and Math.exp): H and the
// norms of every layer input as the calibrator walks the layers, the raw inputs, the
// calibration loss, log-probabilities and KL, over whole windows and cut windows; H and
// the inputs from one run (collectInputs) are bit for bit those of collect and inputs.
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import type { MambaConfig } from '../../src/frontend/checkpoint.ts';
import { buildMambaGraph } from '../../src/frontend/mamba-graph.ts';
import { nativeAvailable } from '../../src/native/build.ts';
import { nativeCompile } from '../../src/native/graph.ts';
import { NativeSession } from '../../src/native/session.ts';
import { Calibrator } from '../../src/passes/analysis/calibration.ts';
import { DEFAULT_LAYERS, findTargets, parseLayers } from '../../src/passes/sparsity/targets.ts';
import { lcg, randomCheckpoint } from '../helpers/random-model.ts';

const seed = Number(process.env.FC_SEED ?? 42);
const available = nativeAvailable();
const session = available ? new NativeSession() : undefined;
afterAll(() => session?.close());

const arbModel = fc
  .record({
    dModel: fc.constantFrom(8, 12, 16),
    nLayer: fc.integer({ min: 1, max: 2 }),
    vocabSize: fc.integer({ min: 8, max: 20 }),
    dState: fc.integer({ min: 1, max: 17 }),
    dConv: fc.integer({ min: 1, max: 4 }),
    expand: fc.integer({ min: 1, max: 2 }),
    tiedHead: fc.boolean(),
    convBias: fc.boolean(),
    projBias: fc.boolean(),
    seed: fc.nat(),
  })
  .map(({ seed: s, ...r }) => ({ config: { ...r, dtRank: 4, dInner: r.expand * r.dModel, normEps: 1e-5 } as MambaConfig, seed: s }));

function close(a: ArrayLike<number>, b: ArrayLike<number>, rel: number): void {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]), Math.abs(b[i]));
  for (let i = 0; i < a.length; i++) if (Math.abs(a[i] - b[i]) > rel * m + 1e-6) expect.fail(`index ${i}: ${a[i]} vs ${b[i]} (max ${m})`);
}

describe('native calibration equals the interpreter', () => {
  it('has the C compiler the setup script installs (the native engine is the default with one)', () => {
    expect(available).toBe(true);
  });

  it('H, inputs, loss, log-probabilities and KL through every layer, whole and cut windows', () => {
    fc.assert(
      fc.property(arbModel, fc.integer({ min: 2, max: 3 }), fc.integer({ min: 2, max: 15 }), ({ config, seed: s }, windows, cut) => {
        const graph = buildMambaGraph(randomCheckpoint(config, s));
        const rnd = lcg(s + 1);
        const tokens = Int32Array.from({ length: 16 * windows + 5 }, () => Math.floor(rnd() * config.vocabSize));
        const targets = findTargets(graph, parseLayers(DEFAULT_LAYERS));
        const ref = new Calibrator(graph, { tokens, window: 16 }, targets);
        const nat = new Calibrator(graph, { tokens, window: 16, compile: nativeCompile(session!) }, targets);
        expect(nat.mode).toBe('prefill');
        const w = graph.weightData;
        for (const maxTokens of [Infinity, cut]) {
          close([nat.loss(w, maxTokens)], [ref.loss(w, maxTokens)], 1e-4);
          const lpR = ref.logProbs(w, maxTokens);
          const lpN = nat.logProbs(w, maxTokens);
          close(lpN, lpR, 1e-4);
          close([nat.kl(w, lpR, maxTokens)], [ref.kl(w, lpR, maxTokens)], 1e-3);
        }
        targets.forEach((_t, j) => {
          const a = ref.collect(w);
          const b = nat.collect(w);
          expect(b.rows).toBe(a.rows);
          close(b.H, a.H, 1e-4);
          close(b.norms, a.norms, 1e-4);
          const xN = nat.inputs(w);
          close(xN, ref.inputs(w), 1e-4);
          // One run for both (what the adaptive prune keeps for its refit): the same bits.
          for (const [cal, stats, X] of [[nat, b, xN], [ref, a, ref.inputs(w)]] as const) {
            const both = cal.collectInputs(w);
            expect(both.stats).toEqual(stats);
            expect(both.X).toEqual(X);
          }
          if (j + 1 < targets.length) {
            ref.advance(w);
            nat.advance(w);
          }
        });
        // From the last anchor (deep in the model) the loss runs only the rest of it.
        close([nat.loss(w, cut)], [ref.loss(w, cut)], 1e-4);
      }),
      { seed, numRuns: 10 },
    );
  });
});

describe('cut windows (interpreter)', () => {
  it('loss over the first 16 tokens equals a calibrator whose only window is those 16 tokens', () => {
    const config: MambaConfig = { dModel: 8, nLayer: 2, vocabSize: 12, dState: 3, dConv: 3, expand: 2, dtRank: 4, dInner: 16, normEps: 1e-5, tiedHead: true, convBias: true, projBias: false };
    const graph = buildMambaGraph(randomCheckpoint(config, 3));
    const rnd = lcg(9);
    const tokens = Int32Array.from({ length: 64 }, () => Math.floor(rnd() * 12));
    const targets = findTargets(graph, parseLayers(DEFAULT_LAYERS));
    const full = new Calibrator(graph, { tokens, window: 32 }, targets);
    const short = new Calibrator(graph, { tokens: tokens.slice(0, 16), window: 16 }, targets);
    expect(full.loss(graph.weightData, 16)).toBeCloseTo(short.loss(graph.weightData), 12);
    const lp = short.logProbs(graph.weightData);
    close(full.logProbs(graph.weightData, 16), lp, 1e-7);
  });
});
