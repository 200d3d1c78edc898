// select-layout: chooses buffer or image2d memory for every tensor the OpenCL backend
// allocates, minimising the modelled cost of the whole graph on one device (reads and
// writes priced by the device table, plus a conversion kernel wherever a kernel reads
// a value in the other kind than it was written). Choosing only: the decision is
// written into tensor types (specs/layout.md); materialize-layout applies it.
//
// The cost model is layout/problem.ts; with two kinds and submodular pairwise terms it
// is minimised exactly by one s-t minimum cut (layout/solve.ts, layout/min-cut.ts).
// `strategy=local` gives the layout-unaware baseline instead (each kernel picks its
// cheapest kinds alone), for comparisons.
import type { Graph } from '../ir/graph.ts';
import { DEVICE_NAMES, getDevice } from './devices/index.ts';
import { makeGraph } from '../ir/graph.ts';
import { applyLayout, LAYOUT_DEVICE_ATTR } from './layout/apply.ts';
import { buildLayoutProblem } from './layout/problem.ts';
import { localLayout, minCutLayout } from './layout/solve.ts';
import { definePass, option } from './pass.ts';

export const selectLayout = definePass({
  name: 'select-layout',
  description: 'choose buffer or image2d memory per tensor (minimum total cost including conversions, by s-t min cut); annotates types only',
  options: {
    device: option.enum(DEVICE_NAMES, { default: 'adreno', doc: 'device table the costs come from' }),
    interface: option.enum(['buffer', 'free'] as const, { default: 'buffer', doc: 'graph inputs/outputs fixed to buffer, or chosen (state X tied to X.next)' }),
    'respect-existing': option.bool({ default: true, doc: 'keep existing memory annotations as constraints' }),
    strategy: option.enum(['min-cut', 'local'] as const, { default: 'min-cut', doc: 'exact min cut, or the per-kernel local baseline' }),
  },
  run(graph: Graph, o): Graph {
    const device = getDevice(o.device);
    const problem = buildLayoutProblem(graph, device, { interface: o.interface, respectExisting: o['respect-existing'] });
    const solution = o.strategy === 'local' ? localLayout(problem) : minCutLayout(problem);
    const out = applyLayout(graph, problem, solution);
    return makeGraph({ ...out, attrs: { ...out.attrs, [LAYOUT_DEVICE_ATTR]: o.device } });
  },
});
