// The Mamba-1 decode step through fuse-ops, select-layout and materialize-layout on
// each device table: how many conversion kernels remain (none, on every table; the
// goal was none on Adreno) against the layout-unaware local baseline (which converts
// nearly every activation on Adreno), the launch counts, and unchanged outputs.
import { describe, expect, it } from 'vitest';
import type { MambaConfig } from '../../../src/frontend/checkpoint.ts';
import { buildMambaGraph, io } from '../../../src/frontend/mamba-graph.ts';
import type { Graph } from '../../../src/ir/graph.ts';
import { interpret } from '../../../src/ir/interpreter.ts';
import { PassManager } from '../../../src/passes/index.ts';
import { conversionCount, launchCount } from '../../../src/passes/layout/inspect.ts';
import { randomCheckpoint } from '../../helpers/random-model.ts';
import { outputsEqual } from '../random-graphs.ts';

// The Mamba-1 structure with small dims that are whole RGBA texels (d_state 4, dt_rank 4).
const config = (nLayer: number): MambaConfig => ({
  dModel: 16, nLayer, vocabSize: 32, dState: 4, dConv: 4, expand: 2, dInner: 32, dtRank: 4,
  normEps: 1e-5, tiedHead: true, convBias: true, projBias: false,
});

const pipe = (g: Graph, p: string) => new PassManager(p, { reproducerDir: false }).run(g).graph;

function inputsFor(g: Graph): Record<string, Float32Array | Int32Array> {
  const out: Record<string, Float32Array | Int32Array> = {};
  for (const v of g.inputs) {
    const n = v.type.shape.reduce((a, b) => a * b, 1);
    out[v.name] = v.type.dtype === 'i32' ? Int32Array.of(7) : Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37) * 0.5);
  }
  return out;
}

describe('Mamba decode layout', () => {
  for (const nLayer of [1, 2]) {
    const g = buildMambaGraph(randomCheckpoint(config(nLayer), 3));
    for (const device of ['adreno', 'mali', 'generic']) {
      it(`${device}, ${nLayer} layer(s): no conversion kernels after select-layout; 7 launches per layer + 2`, () => {
        const fused = pipe(g, `fuse-ops,select-layout{device=${device}},materialize-layout`);
        expect(conversionCount(fused)).toBe(0);
        expect(launchCount(fused)).toBe(7 * nLayer + 2);
        const plain = pipe(g, `select-layout{device=${device}},materialize-layout`);
        expect(conversionCount(plain)).toBe(0);
        expect(launchCount(plain)).toBe(16 * nLayer + 3);
        const x = inputsFor(g);
        expect(outputsEqual(interpret(fused, x), interpret(g, x))).toBe(true);
      });
    }

    it(`the local baseline converts on adreno (${nLayer} layer(s)): 10 per layer + 2 fused, 19 per layer + 2 unfused; none on mali/generic`, () => {
      expect(conversionCount(pipe(g, 'fuse-ops,select-layout{device=adreno strategy=local},materialize-layout'))).toBe(10 * nLayer + 2);
      expect(conversionCount(pipe(g, 'select-layout{device=adreno strategy=local},materialize-layout'))).toBe(19 * nLayer + 2);
      for (const device of ['mali', 'generic']) expect(conversionCount(pipe(g, `fuse-ops,select-layout{device=${device} strategy=local},materialize-layout`))).toBe(0);
    });
  }

  it('adreno keeps state and the interface in buffers and puts weights and activations in images', () => {
    const g = buildMambaGraph(randomCheckpoint(config(2), 3));
    const out = pipe(g, 'fuse-ops,select-layout{device=adreno},materialize-layout');
    for (const v of out.inputs) expect(v.type.memory).toBe('buffer');
    const results = new Map(out.nodes.flatMap((n) => n.outputs.map((o) => [o.name, o.type.memory] as const)));
    for (const name of [io.logits, io.convNext(0), io.ssmNext(1)]) expect(results.get(name)).toBe('buffer');
    for (const w of out.weights) expect(w.type.memory).toBe('image2d');
    for (const name of ['l0.hn', 'l0.x', 'l1.y', 'h.1']) expect(results.get(name)).toBe('image2d');
  });
});
