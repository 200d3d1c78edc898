// cast-weights (the pass that decides the storage dtype the backends write): which
// weights it touches, that C_n^4 annotations and zeros survive, and that the packed
// file then holds exactly the IR's values (the interpreter on the cast graph is the
// reference for f16). Lives beside the backends because they consume its result.
import { describe, expect, it } from 'vitest';
import { packWeights, readPackedWeights, unpack } from '../../src/backends/packed/index.ts';
import { buildMambaGraph } from '../../src/frontend/mamba-graph.ts';
import { PassManager } from '../../src/passes/index.ts';
import { matrixWeights } from '../../src/passes/cast-weights.ts';
import { decodeF16Array } from '../../src/util/half.ts';
import { randomCheckpoint } from '../helpers/random-model.ts';
import { annotateCn4 } from './c/helpers.ts';

const CONFIG = { dModel: 8, nLayer: 2, vocabSize: 11, dState: 4, dConv: 4, expand: 2, dtRank: 2, tiedHead: true, convBias: true, projBias: true, dInner: 16, normEps: 1e-5 };

describe('cast-weights', () => {
  const g = annotateCn4(buildMambaGraph(randomCheckpoint(CONFIG, 3), { mode: 'decode' }), 5);

  it('by default stores the linear and embedding matrices as f16 and leaves the vectors f32', () => {
    const out = new PassManager('cast-weights').run(g).graph;
    const mats = matrixWeights(g);
    expect([...mats].sort()).toContain('embedding');
    for (const w of out.weights) {
      expect(w.type.dtype, w.name).toBe(mats.has(w.name) ? 'f16' : 'f32');
      expect(w.type.cn4, w.name).toEqual(g.weights.find((v) => v.name === w.name)!.type.cn4);
    }
    // The packed file holds exactly the cast graph's values, in its dtypes.
    const file = readPackedWeights(packWeights(out).bytes);
    for (const w of out.weights) {
      const t = file.tensors.find((x) => x.name === w.name)!;
      expect(t.dtype).toBe(w.type.dtype);
      const ir = w.type.dtype === 'f16' ? decodeF16Array(out.weightData.get(w.name) as Uint16Array) : (out.weightData.get(w.name) as Float32Array);
      expect(Array.from(unpack(file, w.name))).toEqual(Array.from(ir, (v) => (v === 0 ? 0 : v)));
    }
  });

  it('dtype=f32 which=all widens back exactly; a cast that changes nothing returns the same graph', () => {
    const half = new PassManager('cast-weights{dtype=f16 which=all}').run(g).graph;
    expect(half.weights.every((w) => w.type.dtype === 'f16')).toBe(true);
    const back = new PassManager('cast-weights{dtype=f32 which=all}').run(half).graph;
    for (const w of back.weights) {
      expect(w.type.dtype).toBe('f32');
      expect(Array.from(back.weightData.get(w.name) as Float32Array)).toEqual(Array.from(decodeF16Array(half.weightData.get(w.name) as Uint16Array)));
    }
    expect(new PassManager('cast-weights{dtype=f32 which=all}').run(back).graph.weights).toEqual(back.weights);
  });
});
