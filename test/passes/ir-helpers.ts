// Helpers for pass tests written in the IR text (input text -> expected printed text).
import { expect } from 'vitest';
import type { Graph } from '../../src/ir/graph.ts';
import { makeGraph } from '../../src/ir/graph.ts';
import { parseGraph, printGraph } from '../../src/ir/text/index.ts';
import { numel } from '../../src/ir/types.ts';
import type { WeightArray } from '../../src/ir/weights.ts';
import { WeightStore } from '../../src/ir/weights.ts';
import { PassManager } from '../../src/passes/index.ts';
import { Prng } from '../../src/util/prng.ts';

/** Parses IR text and gives every declared weight deterministic random data. */
export function irWithData(text: string, extra: Record<string, WeightArray> = {}): Graph {
  const g = parseGraph(text, { file: '<test>', verify: false }).graph;
  const entries: [string, WeightArray][] = g.weights.map((w) => {
    const n = numel(w.type.shape);
    const rnd = new Prng(7, w.name);
    if (w.type.dtype === 'i32') return [w.name, Int32Array.from({ length: n }, () => rnd.nextU32() % 4)];
    if (w.type.dtype !== 'f32') return [w.name, Uint16Array.from({ length: n }, () => 0x3c00 + (rnd.nextU32() % 512))];
    return [w.name, rnd.fillUniform(new Float32Array(n), -1, 1)];
  });
  return makeGraph({ ...g, weightData: new WeightStore([...entries, ...Object.entries(extra)]) });
}

/** Runs `pipeline` on the IR text and compares the printed result with `expected`. */
export function checkPipeline(pipeline: string, input: string, expected: string): Graph {
  const g = irWithData(input);
  const out = new PassManager(pipeline, { reproducerDir: false }).run(g).graph;
  expect(printGraph(out)).toBe(expected);
  return out;
}
