// sparsify-cn4 with engine=native against engine=js on random models: the same
// allocation and compensated weights up to rounding, for uniform OBS and the adaptive
// allocator with refit and KL sensitivities.
import { describe, expect, it } from 'vitest';
import type { MambaConfig } from '../../src/frontend/checkpoint.ts';
import { buildMambaGraph } from '../../src/frontend/mamba-graph.ts';
import type { Graph } from '../../src/ir/graph.ts';
import { nativeAvailable } from '../../src/native/build.ts';
import { PassManager } from '../../src/passes/index.ts';
import type { SparsityReport } from '../../src/passes/sparsity/report.ts';
import { lcg, randomCheckpoint } from '../helpers/random-model.ts';

const available = nativeAvailable();

function prune(graph: Graph, pipeline: string, tokens: Int32Array): { graph: Graph; report: SparsityReport } {
  let report: SparsityReport | undefined;
  const out = new PassManager(pipeline, { reproducerDir: false }).run(graph, { services: { calibration: { tokens, window: 32 }, sparsityReport: (r: SparsityReport) => (report = r) } }).graph;
  return { graph: out, report: report! };
}

describe('sparsify-cn4 engine=native equals engine=js', () => {
  it('has the C compiler the setup script installs (the native engine is the default with one)', () => {
    expect(available).toBe(true);
  });

  for (const [i, pipeline] of ['sparsify-cn4{method=obs n=2}', 'sparsify-cn4{method=obs sparsity=0.5 sens-tokens=24}', 'sparsify-cn4{method=obs sparsity=0.3 realloc=false refit=false sens=loss sens-tokens=0}'].entries()) {
    it(pipeline, () => {
      const config: MambaConfig = { dModel: 16, nLayer: 2, vocabSize: 20, dState: 4, dConv: 4, expand: 2, dtRank: 4, dInner: 32, normEps: 1e-5, tiedHead: i !== 1, convBias: true, projBias: i === 2 };
      const graph = buildMambaGraph(randomCheckpoint(config, 11 + i));
      const rnd = lcg(5 + i);
      const tokens = Int32Array.from({ length: 160 }, () => Math.floor(rnd() * config.vocabSize));
      const js = prune(graph, pipeline.replace('}', ' engine=js}'), tokens);
      const nat = prune(graph, pipeline.replace('}', ' engine=native}'), tokens);
      expect(nat.report.layers.map((l) => l.nHistogram)).toEqual(js.report.layers.map((l) => l.nHistogram));
      for (const w of graph.weights) {
        expect(nat.graph.weights.find((v) => v.name === w.name)!.type.cn4).toEqual(js.graph.weights.find((v) => v.name === w.name)!.type.cn4);
        const a = js.graph.weightData.get(w.name) as Float32Array;
        const b = nat.graph.weightData.get(w.name) as Float32Array;
        for (let k = 0; k < a.length; k++) expect(Math.abs(a[k] - b[k])).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(a[k])));
      }
      nat.report.layers.forEach((l, k) => {
        const r = js.report.layers[k];
        if (r.error) expect(l.error!.after).toBeCloseTo(r.error.after, 5);
        if (r.sensitivity !== undefined) expect(Math.abs(l.sensitivity! - r.sensitivity)).toBeLessThanOrEqual(1e-2 * Math.abs(r.sensitivity) + 1e-8);
      });
    });
  }
});
