// The benchmark's model variants: the 130m synthetic model dense, uniform C_n^4 2:4 and
// 3:4, and adaptive 50% / 70%, each in f32 and f16 storage. Pruning uses magnitude
// scores: decode speed depends only on how many rows have which n (bytes read), not on
// which weights survive, and OBS calibration on the 130m shape is too slow for a
// benchmark run. sparsify-cn4's adaptive allocator needs calibration and OBS damage
// sweeps even with magnitude scores (minutes per layer kind here), so the adaptive
// cases use adaptive.ts (magnitude damage, one global threshold). `reorder-weights`
// makes rows of equal n contiguous (at most five segments per matrix).
import type { Graph } from '../../src/ir/graph.ts';
import { PassManager } from '../../src/passes/index.ts';
import { adaptiveMagnitude } from './adaptive.ts';

export interface Case {
  readonly name: string;
  readonly dtype: 'f32' | 'f16';
  /** Dense case of the same dtype (the byte-ratio reference). */
  readonly dense: string;
  readonly graph: Graph;
  readonly pipeline: string;
}

const PATTERNS: ReadonlyArray<readonly [string, string | undefined, number?]> = [
  ['dense', undefined],
  ['2:4', 'sparsify-cn4{method=magnitude n=2},reorder-weights'],
  ['3:4', 'sparsify-cn4{method=magnitude n=3},reorder-weights'],
  ['adaptive 50%', 'reorder-weights', 0.5],
  ['adaptive 70%', 'reorder-weights', 0.7],
];

const CAST = { f32: 'cast-weights{dtype=f32 which=all}', f16: 'cast-weights{dtype=f16 which=matrices}' } as const;

export function makeCases(base: Graph, only?: readonly string[]): Case[] {
  const out: Case[] = [];
  for (const [pattern, p, adaptive] of PATTERNS) {
    if (only && !only.includes(pattern)) continue;
    const start = adaptive === undefined ? base : adaptiveMagnitude(base, adaptive);
    const pipe = adaptive === undefined ? p : `adaptive.ts{sparsity=${adaptive}},${p}`;
    const pruned = p ? new PassManager(p).run(start).graph : start;
    for (const dtype of ['f32', 'f16'] as const) {
      out.push({ name: `${pattern} ${dtype}`, dtype, dense: `dense ${dtype}`, graph: new PassManager(CAST[dtype]).run(pruned).graph, pipeline: [pipe, CAST[dtype]].filter(Boolean).join(',') });
    }
  }
  return out;
}

/** Fraction of the prunable matrices' weights that are pruned (n / 4 per row). */
export function sparsityOf(g: Graph): number {
  let pruned = 0;
  let total = 0;
  for (const w of g.weights) {
    if (!w.type.cn4) continue;
    const cols = w.type.shape[1];
    for (const n of w.type.cn4) {
      pruned += (n / 4) * cols;
      total += cols;
    }
  }
  return total ? pruned / total : 0;
}
