// sparsify-cn4 on random Mamba models: the pattern, the targets, the meaning of the
// pruned graph, the calibrator's two execution paths, and bad options.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { MambaConfig } from '../../../src/frontend/checkpoint.ts';
import { buildMambaGraph } from '../../../src/frontend/mamba-graph.ts';
import type { Graph } from '../../../src/ir/graph.ts';
import { makeGraph } from '../../../src/ir/graph.ts';
import { interpret } from '../../../src/ir/interpreter.ts';
import { numel } from '../../../src/ir/types.ts';
import { PassManager, runPass, sparsifyCn4 } from '../../../src/passes/index.ts';
import type { SparsityReport } from '../../../src/passes/sparsity/report.ts';
import { sparsityReport } from '../../../src/passes/sparsity/report.ts';
import { thrown } from '../../helpers/errors.ts';
import { lcg, randomCheckpoint } from '../../helpers/random-model.ts';
import { zerosPerGroup } from './helpers.ts';

const seed = Number(process.env.FC_SEED ?? 42);
const params = { seed, numRuns: 12 };

/**
 * Random models with widths divisible by 4. `big` ones are large enough that one row
 * step (K/4 weights) is below 0.5% of the pruned weights, the resolution the targets need.
 */
const arbModelOf = (big: boolean) => fc
  .record({
    dModel: big ? fc.constantFrom(12, 16) : fc.constantFrom(8, 12, 16),
    nLayer: big ? fc.constant(2) : fc.integer({ min: 1, max: 2 }),
    vocabSize: fc.integer({ min: 8, max: 20 }),
    dState: fc.integer({ min: 1, max: 4 }),
    dConv: fc.integer({ min: 2, max: 4 }),
    expand: fc.integer({ min: 1, max: 2 }),
    tiedHead: fc.boolean(),
    convBias: fc.boolean(),
    projBias: fc.boolean(),
    seed: fc.nat(),
  })
  .map(({ seed: s, ...r }) => {
    const c: MambaConfig = { ...r, dtRank: 4, dInner: r.expand * r.dModel, normEps: 1e-5 };
    return { graph: buildMambaGraph(randomCheckpoint(c, s)), config: c, seed: s };
  });
const arbModel = arbModelOf(false);
const arbBigModel = arbModelOf(true);

function calibTokens(vocab: number, n: number, s: number): Int32Array {
  const rnd = lcg(s + 1);
  return Int32Array.from({ length: n }, () => Math.floor(rnd() * vocab));
}

function prune(graph: Graph, pipeline: string, services: Record<string, unknown> = {}): { graph: Graph; report: SparsityReport } {
  let report: SparsityReport | undefined;
  const out = new PassManager(pipeline, { reproducerDir: false }).run(graph, { services: { sparsityReport: (r: SparsityReport) => (report = r), ...services } }).graph;
  return { graph: out, report: report! };
}

const PRUNED = /\.(in_proj|x_proj|dt_proj|out_proj)$/;

function checkPattern(g: Graph): void {
  for (const w of g.weights) {
    if (!PRUNED.test(w.name)) {
      expect(w.type.cn4).toBeUndefined();
      continue;
    }
    const n = w.type.cn4!;
    const [rows, K] = w.type.shape;
    expect(n.length).toBe(rows);
    const data = g.weightData.get(w.name) as Float32Array;
    for (let r = 0; r < rows; r++) for (let gi = 0; gi < K / 4; gi++) expect(zerosPerGroup(data, r, gi, K)).toBe(n[r]);
    expect(data.every(Number.isFinite)).toBe(true);
  }
}

describe('sparsify-cn4 on random models', () => {
  it('uniform: every row of every pruned matrix has exactly n zeros per group (all methods)', () => {
    fc.assert(
      fc.property(arbModel, fc.integer({ min: 0, max: 4 }), fc.constantFrom('magnitude', 'wanda', 'obs'), ({ graph, config, seed: s }, n, method) => {
        const { graph: g, report } = prune(graph, `sparsify-cn4{method=${method} n=${n}}`, { calibration: { tokens: calibTokens(config.vocabSize, 96, s), window: 32 } });
        checkPattern(g);
        expect(report.sparsity).toBeCloseTo(n / 4, 12);
        expect(sparsityReport(g).sparsity).toBeCloseTo(n / 4, 12);
        if (method === 'obs') for (const l of report.layers) expect(l.error!.after).toBeLessThanOrEqual(l.error!.before * (1 + 1e-9) + 1e-12);
      }),
      params,
    );
  });

  it('adaptive: overall sparsity within 0.5% of the target, pattern exact', () => {
    fc.assert(
      fc.property(
        arbBigModel,
        fc.double({ min: 0.05, max: 0.9, noNaN: true }),
        fc.constantFrom('wanda', 'obs'),
        fc.boolean(),
        fc.record({ refit: fc.boolean(), iters: fc.integer({ min: 0, max: 1 }), sens: fc.constantFrom('kl', 'loss'), paths: fc.boolean() }),
        ({ graph, config, seed: s }, S, method, realloc, { refit, iters, sens, paths }) => {
          const { graph: g, report } = prune(graph, `sparsify-cn4{method=${method} sparsity=${S} realloc=${realloc} refit=${refit} sens=${sens} sens-iters=${iters} sens-paths=${paths} sens-tokens=64}`, {
            calibration: { tokens: calibTokens(config.vocabSize, 128, s), window: 32 },
          });
          checkPattern(g);
          expect(Math.abs(report.sparsity - S)).toBeLessThanOrEqual(0.005);
          expect(Math.abs(sparsityReport(g).sparsity - S)).toBeLessThanOrEqual(0.005);
        },
      ),
      params,
    );
  });

  it('adaptive: a latency budget is met (packed-bytes model and a custom cost model)', () => {
    const flat = { rowCost: (n: number, K: number) => (n === 4 ? 0 : 1 + (K * (4 - n)) / 4) };
    fc.assert(
      fc.property(arbBigModel, fc.double({ min: 0.2, max: 0.95, noNaN: true }), fc.boolean(), ({ graph, config, seed: s }, L, custom) => {
        const { graph: g, report } = prune(graph, `sparsify-cn4{latency=${L} sens-tokens=0}`, {
          calibration: { tokens: calibTokens(config.vocabSize, 96, s), window: 32 },
          ...(custom ? { costModel: flat } : {}),
        });
        checkPattern(g);
        expect(report.relativeCost!).toBeLessThanOrEqual(L + 0.005);
        expect(report.relativeCost!).toBeGreaterThanOrEqual(L - 0.02);
      }),
      params,
    );
  });

  it('the pruned graph computes exactly what the original graph computes with the explicitly masked weights', () => {
    fc.assert(
      fc.property(arbModel, fc.integer({ min: 1, max: 3 }), fc.constantFrom('magnitude', 'wanda'), ({ graph, config, seed: s }, n, method) => {
        const { graph: g } = prune(graph, `sparsify-cn4{method=${method} n=${n}}`, { calibration: { tokens: calibTokens(config.vocabSize, 64, s), window: 32 } });
        // Masked dense weights: the original values where the pruned graph keeps a weight, 0 where it pruned.
        let store = graph.weightData;
        for (const w of g.weights) {
          if (!w.type.cn4) continue;
          const orig = graph.weightData.get(w.name) as Float32Array;
          const pruned = g.weightData.get(w.name) as Float32Array;
          store = store.with(w.name, orig.map((v, i) => (pruned[i] === 0 ? 0 : v)));
        }
        const masked = makeGraph({ ...graph, weightData: store });
        const rnd = lcg(s + 7);
        const inputs: Record<string, Float32Array | Int32Array> = {};
        for (const v of graph.inputs) inputs[v.name] = v.type.dtype === 'i32' ? Int32Array.of(Math.floor(rnd() * config.vocabSize)) : Float32Array.from({ length: numel(v.type.shape) }, () => rnd() - 0.5);
        const a = interpret(g, inputs);
        const b = interpret(masked, inputs);
        for (const k of Object.keys(a)) expect(Array.from(a[k].data)).toEqual(Array.from(b[k].data));
      }),
      params,
    );
  });

  it('calibration gives the same result lifted to windows and stepping token by token', () => {
    fc.assert(
      fc.property(arbModel, ({ graph, config, seed: s }) => {
        const tokens = calibTokens(config.vocabSize, 64, s);
        const a = prune(graph, 'sparsify-cn4{method=obs n=2}', { calibration: { tokens, window: 32 } }).graph;
        const b = prune(graph, 'sparsify-cn4{method=obs n=2}', { calibration: { tokens, window: 32, stepwise: true } }).graph;
        for (const w of a.weights) {
          if (!w.type.cn4) continue;
          const x = a.weightData.get(w.name) as Float32Array;
          const y = b.weightData.get(w.name) as Float32Array;
          let scale = 0;
          for (let i = 0; i < x.length; i++) scale = Math.max(scale, Math.abs(x[i]));
          // Same masks; weights equal up to the f32 rounding of the two execution orders.
          for (let i = 0; i < x.length; i++) {
            expect(x[i] === 0).toBe(y[i] === 0);
            expect(Math.abs(x[i] - y[i])).toBeLessThanOrEqual(1e-3 * (scale + 1));
          }
        }
      }),
      { seed, numRuns: 6 },
    );
  });

  it('dead inputs (a zero norm weight) give finite weights and the exact pattern', () => {
    const c: MambaConfig = { dModel: 8, nLayer: 1, vocabSize: 12, dState: 2, dConv: 3, expand: 2, dtRank: 4, dInner: 16, normEps: 1e-5, tiedHead: true, convBias: true, projBias: false };
    const ck = randomCheckpoint(c, 3);
    const norm = ck.tensors.get('l0.norm')!.data as Float32Array;
    norm[2] = 0;
    norm[5] = 0;
    const graph = buildMambaGraph(ck);
    for (const p of ['sparsify-cn4{n=2}', 'sparsify-cn4{sparsity=0.6 sens-tokens=32}', 'sparsify-cn4{n=3 damp=0}']) {
      const { graph: g } = prune(graph, p, { calibration: { tokens: calibTokens(12, 64, 1), window: 32 } });
      checkPattern(g);
    }
  });
});

describe('sparsify-cn4 bad input', () => {
  const c: MambaConfig = { dModel: 8, nLayer: 1, vocabSize: 12, dState: 2, dConv: 3, expand: 2, dtRank: 4, dInner: 16, normEps: 1e-5, tiedHead: true, convBias: true, projBias: false };
  const graph = buildMambaGraph(randomCheckpoint(c, 5));
  const calibration = { tokens: calibTokens(12, 64, 2), window: 32 };
  const run = (p: string, services: Record<string, unknown> = { calibration }) => thrown(() => new PassManager(p, { reproducerDir: false }).run(graph, { services }));

  it('sparsity outside [0, 1) and n outside 0..4 are pipeline errors naming the option', () => {
    for (const p of ['sparsify-cn4{sparsity=1}', 'sparsify-cn4{sparsity=-0.1}', 'sparsify-cn4{sparsity=1.5}']) {
      const e = run(p);
      expect(['E_PIPELINE', 'E_PASS']).toContain(e.code);
      expect(e.message).toContain('sparsity');
    }
    for (const p of ['sparsify-cn4{n=5}', 'sparsify-cn4{n=-1}', 'sparsify-cn4{n=1.5}']) {
      const e = run(p);
      expect(e.code).toBe('E_PIPELINE');
      expect(e.message).toContain("'n'");
    }
    expect(run('sparsify-cn4{latency=0}').message).toContain('latency');
    expect(run('sparsify-cn4{n=2 sparsity=0.5}').message).toMatch(/sparsity|n/);
    expect(run('sparsify-cn4{method=obs}').message).toContain('n=0..4');
    expect(run('sparsify-cn4{n=2 layers=foo}').message).toContain("'foo'");
  });

  it('missing or too short calibration is an E_PASS naming it', () => {
    const e = run('sparsify-cn4{method=obs n=2}', {});
    expect(e.code).toBe('E_PASS');
    expect(e.message).toContain('calibration');
    const short = run('sparsify-cn4{sparsity=0.5}', { calibration: { tokens: Int32Array.of(1, 2, 3) } });
    expect(short.code).toBe('E_PASS');
    expect(short.message).toMatch(/calibration is too short/);
    const outside = run('sparsify-cn4{n=2 method=wanda}', { calibration: { tokens: new Int32Array(64).fill(99) } });
    expect(outside.message).toContain('outside the vocabulary');
    // Uniform magnitude needs no calibration.
    expect(() => runPass(sparsifyCn4, graph, { n: 2, method: 'magnitude' })).not.toThrow();
  });

  it('a layer width not divisible by 4 is an error naming the weight', () => {
    const c2 = { ...c, dtRank: 3 };
    const g2 = buildMambaGraph(randomCheckpoint(c2, 1));
    const e = thrown(() => new PassManager('sparsify-cn4{n=2 method=magnitude}', { reproducerDir: false }).run(g2));
    expect(e.code).toBe('E_PASS');
    expect(e.message).toContain('@l0.dt_proj');
    expect(e.message).toContain('multiple of 4');
    // Leaving it out works.
    expect(() => new PassManager('sparsify-cn4{n=2 method=magnitude layers="in_proj,x_proj,out_proj"}').run(g2)).not.toThrow();
  });
});
