// fuse-ops: groups a graph's top-level nodes into kernels by the op registry's fusion
// classes (after TVM's FuseOps), and replaces each group of two or more nodes by one
// `fused.group` node whose body is the group (attribute `kernel`: the members' op
// names joined by `_`, e.g. "linear_softplus").
//
// The rule (src/passes/fusion/partition.ts, legality in rule.ts):
// - a group holds at most ONE reduction, its anchor; every other member is elementwise
//   or injective: a prologue (feeding the anchor), an epilogue (consuming its results)
//   or a side input of the epilogue. Opaque ops (and existing fused groups) never fuse.
// - elementwise/injective nodes go, in this priority: into their immediate
//   post-dominator when every path there is elementwise/injective; into a producing
//   reduction's epilogue; into a consuming reduction's prologue; into a producing
//   elementwise/injective group's epilogue.
// - a group is convex (no path leaves it and comes back, so no cycle is created);
//   an elementwise member never broadcasts an in-group value to a larger shape;
//   a group has at most `max-ops` ops.
// - values used outside the group, returned by the graph or never used become the
//   group's results, under their original names.
// The interpreter runs a body with the same op semantics, so outputs are bit-identical.
//
// The Mamba-1 decode step comes out as 7 kernels per layer (16 ops before):
//   1. rms_norm                                  (alone: its consumer is a reduction)
//   2. linear_split                              in_proj, split into x | z
//   3. conv1d_step_silu                          conv step + silu, results x and conv state
//   4. linear_split                              x_proj, split into dt | B | C
//   5. linear_softplus                           dt_proj (+bias) + softplus
//   6. scan_step_mul_add_silu_mul                scan step; epilogue y = (y0 + x*D) * silu(z)
//   7. linear_add                                out_proj + residual
// plus `embedding_rms_norm` (the first layer's norm takes the lookup as its prologue;
// that kernel replaces layer 0's kernel 1), and the final `rms_norm` and head `linear`:
// 7 * n_layer + 2 kernels in all. A prefill graph has opaque ssm.conv1d / ssm.scan, so
// its elementwise work goes to the prologues of x_proj and out_proj instead.
import type { Graph } from '../ir/graph.ts';
import { buildDataflow } from './fusion/dataflow.ts';
import { outlineGroups } from './fusion/outline.ts';
import { partitionForFusion } from './fusion/partition.ts';
import { definePass, option } from './pass.ts';

export const fuseOps = definePass({
  name: 'fuse-ops',
  description: 'group ops into fused.group kernels by fusion class (one reduction anchor with elementwise/injective prologue and epilogue)',
  options: {
    'max-ops': option.int({ default: 64, min: 1, doc: 'most ops in one fused group' }),
  },
  run(graph: Graph, options): Graph {
    const df = buildDataflow(graph);
    const groups = partitionForFusion(df, { maxOps: options['max-ops'] });
    return outlineGroups(graph, df, groups);
  },
});

/**
 * The kernels a graph launches, in order: a fused group's `kernel` attribute, or the
 * op name of a node left alone (e.g. `rms_norm`).
 */
export function kernelNames(graph: Graph): string[] {
  return graph.nodes.map((n) => {
    const k = n.op === 'fused.group' ? n.attrs.kernel : undefined;
    return typeof k === 'string' ? k : n.op.slice(n.op.lastIndexOf('.') + 1);
  });
}
