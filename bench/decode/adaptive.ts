// Adaptive C_n^4 for the speed benchmark without calibration: sparsify-cn4's adaptive
// allocator needs calibration statistics and OBS damage sweeps, which take far too long
// on the 130m shape in the interpreter (minutes per layer kind). Decode speed depends
// only on the distribution of n over rows, so here each row's damage at n = 0..4 is its
// magnitude-pruning error (sum of the pruned squares), one threshold on the marginal
// damage per pruned weight picks every row's n over all target matrices until the
// overall sparsity reaches S, and the rows are pruned by magnitude. Not a quality
// method: a realistic mixed-n distribution for timing.
import type { Graph } from '../../src/ir/graph.ts';
import { makeGraph } from '../../src/ir/graph.ts';
import { pruneByScore } from '../../src/passes/sparsity/masks.ts';
import { DEFAULT_LAYERS, findTargets, fromF64, parseLayers, toF64 } from '../../src/passes/sparsity/targets.ts';

export function adaptiveMagnitude(graph: Graph, sparsity: number): Graph {
  const targets = findTargets(graph, parseLayers(DEFAULT_LAYERS));
  const mats = targets.map((t) => {
    const W = toF64(graph.weightData.get(t.weight), t.dtype);
    // Marginal damage of going from n to n + 1 in each row: the (n+1)-th smallest square per group, summed.
    const delta = new Float64Array(t.rows * 4);
    for (let r = 0; r < t.rows; r++)
      for (let g = 0; g + 4 <= t.cols; g += 4) {
        const o = r * t.cols + g;
        const sq = [W[o] ** 2, W[o + 1] ** 2, W[o + 2] ** 2, W[o + 3] ** 2].sort((a, b) => a - b);
        for (let k = 0; k < 4; k++) delta[r * 4 + k] += sq[k];
      }
    return { t, W, delta };
  });
  const total = mats.reduce((a, m) => a + m.t.rows * m.t.cols, 0);
  const nAt = (lambda: number) => {
    let pruned = 0;
    const ns = mats.map((m) => {
      const n = new Uint8Array(m.t.rows);
      for (let r = 0; r < m.t.rows; r++) {
        let k = 0;
        while (k < 4 && m.delta[r * 4 + k] / (m.t.cols / 4) <= lambda) k++;
        n[r] = k;
        pruned += (k / 4) * m.t.cols;
      }
      return n;
    });
    return { ns, s: pruned / total };
  };
  // Bisection on log(lambda): sparsity grows with lambda.
  let lo = -60;
  let hi = 10;
  for (let i = 0; i < 60; i++) {
    const mid = (lo + hi) / 2;
    if (nAt(Math.exp(mid)).s >= sparsity) hi = mid;
    else lo = mid;
  }
  const { ns } = nAt(Math.exp(hi));
  let store = graph.weightData;
  const cn4 = new Map<string, number[]>();
  mats.forEach((m, i) => {
    pruneByScore(m.W, m.t.rows, m.t.cols, ns[i]);
    store = store.with(m.t.weight, fromF64(m.W, m.t.dtype));
    cn4.set(m.t.weight, Array.from(ns[i]));
  });
  const weights = graph.weights.map((w) => (cn4.has(w.name) ? { name: w.name, type: { ...w.type, cn4: cn4.get(w.name)! } } : w));
  return makeGraph({ ...graph, weights, weightData: store });
}
