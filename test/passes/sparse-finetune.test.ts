// sparse-finetune on small random Mamba models: pruned weights stay exactly zero and
// every C_n^4 annotation stays valid, the distillation KL on the calibration windows
// goes down, runs are deterministic, and the pass runs from a pipeline string.
import { describe, expect, it } from 'vitest';
import { klToTeacher, logSoftmax } from '../../src/autodiff/index.ts';
import { isSsmcError } from '../../src/errors.ts';
import type { MambaConfig } from '../../src/frontend/checkpoint.ts';
import { buildMambaGraph } from '../../src/frontend/mamba-graph.ts';
import type { Graph } from '../../src/ir/graph.ts';
import { interpret } from '../../src/ir/interpreter.ts';
import { liftToSequence } from '../../src/ir/sequence.ts';
import { PassManager } from '../../src/passes/index.ts';
import { runPass } from '../../src/passes/pass.ts';
import { sparseFinetune, type FinetuneReport } from '../../src/passes/sparse-finetune.ts';
import { cn4Violation } from '../../src/passes/sparsity/masks.ts';
import { Prng } from '../../src/util/prng.ts';
import { randomCheckpoint } from '../helpers/random-model.ts';

const config: MambaConfig = { dModel: 16, nLayer: 2, vocabSize: 24, dState: 4, dConv: 3, expand: 2, dInner: 32, dtRank: 4, tiedHead: true, convBias: true, projBias: false, normEps: 1e-5 };
const dense = buildMambaGraph(randomCheckpoint(config, 11), { mode: 'decode' });
const rng = new Prng(5, 'calib');
// Tokens with some structure (a noisy repeating pattern), so the teacher is not uniform.
const tokens = Int32Array.from({ length: 256 }, (_, i) => (rng.float() < 0.8 ? (i * 7) % config.vocabSize : Math.floor(rng.float() * config.vocabSize)));
const WINDOW = 32;
const pruned = new PassManager('sparsify-cn4{method=magnitude n=2}').run(dense).graph;

/** Mean KL(dense ‖ g) over the calibration windows. */
function kl(g: Graph): number {
  const sd = liftToSequence(dense, WINDOW);
  const sg = liftToSequence(g, WINDOW);
  const zeros: Record<string, Float32Array> = {};
  for (const v of sd.inputs) if (v.type.dtype !== 'i32') zeros[v.name] = new Float32Array(v.type.shape.reduce((a, b) => a * b, 1));
  let sum = 0;
  let n = 0;
  for (let o = 0; o + WINDOW <= tokens.length; o += WINDOW) {
    const w = tokens.subarray(o, o + WINDOW);
    const t = logSoftmax(interpret(sd, { ...zeros, token: w }).logits.data, WINDOW, config.vocabSize);
    sum += klToTeacher(interpret(sg, { ...zeros, token: w }).logits.data, t, WINDOW, config.vocabSize).loss;
    n++;
  }
  return sum / n;
}

const services = { calibration: { tokens }, teacher: { graph: dense } };
const tune = (opts: Record<string, number | string>, extra: Record<string, unknown> = {}) => runPass(sparseFinetune, pruned, { window: WINDOW, steps: 40, lr: 0.01, ...opts }, { services: { ...services, ...extra } });

describe('sparse-finetune', () => {
  it('keeps pruned weights at zero and the C_n^4 annotations valid, and lowers the distillation KL', () => {
    let report: FinetuneReport | undefined;
    const tuned = tune({}, { sparseFinetuneReport: (r: FinetuneReport) => (report = r) });
    let changed = 0;
    for (const w of pruned.weights) {
      const before = pruned.weightData.get(w.name);
      const after = tuned.weightData.get(w.name);
      const wt = tuned.weights.find((x) => x.name === w.name)!;
      expect(wt.type).toEqual(w.type);
      if (w.type.cn4) {
        expect(cn4Violation(after, w.type.shape[0], w.type.shape[1], w.type.cn4)).toBeUndefined();
        for (let i = 0; i < before.length; i++) if (before[i] === 0) expect(after[i]).toBe(0);
      }
      for (let i = 0; i < before.length; i++) if (before[i] !== after[i]) changed++;
    }
    expect(changed).toBeGreaterThan(0);
    const k0 = kl(pruned);
    const k1 = kl(tuned);
    expect(k0).toBeGreaterThan(0);
    expect(k1).toBeLessThan(0.8 * k0);
    expect(report!.steps).toBe(40);
    expect(report!.klEnd).toBeLessThan(report!.klStart);
  });

  it('is deterministic for a seed, and the seed matters', () => {
    const a = tune({ steps: 8, seed: 1 });
    const b = tune({ steps: 8, seed: 1 });
    const c = tune({ steps: 8, seed: 2 });
    const name = 'l0.in_proj';
    expect(a.weightData.get(name)).toEqual(b.weightData.get(name));
    expect(a.weightData.get(name)).not.toEqual(c.weightData.get(name));
  });

  it('trains only linear weights by default and every float weight with params=all', () => {
    const lin = tune({ steps: 5 });
    const all = tune({ steps: 5, params: 'all' });
    for (const name of ['l0.norm', 'l0.A', 'l0.conv.weight', 'norm_f']) {
      expect(lin.weightData.get(name)).toBe(pruned.weightData.get(name));
      expect(all.weightData.get(name)).not.toEqual(pruned.weightData.get(name));
    }
    expect(lin.weightData.get('l1.out_proj')).not.toEqual(pruned.weightData.get('l1.out_proj'));
  });

  it('needs the dense teacher and enough calibration tokens, with errors that say so', () => {
    const err = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return e;
      }
      return undefined;
    };
    const noTeacher = err(() => runPass(sparseFinetune, pruned, { steps: 2 }, { services: { calibration: { tokens } } }));
    expect(isSsmcError(noTeacher) && noTeacher.code).toBe('E_PASS');
    expect(String(noTeacher)).toContain("'teacher'");
    const short = err(() => runPass(sparseFinetune, pruned, { steps: 2, window: 512 }, { services }));
    expect(isSsmcError(short) && short.code).toBe('E_PASS');
    expect(String(short)).toContain('512');
  });

  it('runs after sparsify-cn4 in a pipeline string', () => {
    const p = 'sparsify-cn4{method=magnitude n=2},sparse-finetune{steps=3 window=32}';
    const out = new PassManager(p).run(dense, { services }).graph;
    for (const w of out.weights) if (w.type.cn4) expect(cn4Violation(out.weightData.get(w.name), w.type.shape[0], w.type.shape[1], w.type.cn4)).toBeUndefined();
    expect(out.weightData.get('l0.x_proj')).not.toEqual(pruned.weightData.get('l0.x_proj'));
    // Without a teacher service the manager offers the run's input (the dense model):
    // the same fine-tune, bit for bit.
    const implicit = new PassManager(p).run(dense, { services: { calibration: { tokens } } }).graph;
    for (const w of out.weights) expect(implicit.weightData.get(w.name)).toEqual(out.weightData.get(w.name));
  });
});
