// Reading layout decisions back off the IR: what a graph's annotations say is stored
// and read where (absent annotation = buffer, the backend's default; an unannotated
// fused parameter reads what is stored), what that costs, and how many conversion
// kernels and kernel launches a graph has. For tests and the benchmark.
import type { Graph } from '../../ir/graph.ts';
import type { MemoryKind } from '../../ir/types.ts';
import type { DeviceDesc } from '../devices/index.ts';
import type { Assignment, LayoutOptions } from './problem.ts';
import { buildLayoutProblem, layoutCost } from './problem.ts';
import type { LayoutProblem } from './problem.ts';

/** The assignment a graph's annotations state, in the terms of problem `p` (built from the same graph). */
export function irAssignment(graph: Graph, p: LayoutProblem): Assignment {
  const stored = p.tensors.map((t): MemoryKind => t.type.memory ?? 'buffer');
  const reads = p.sites.map((s): MemoryKind => {
    const own = stored[s.tensor];
    if (s.tied || s.operand < 0) return own;
    const n = graph.nodes[s.node];
    return n.body ? (n.body.inputs[s.operand].type.memory ?? own) : own;
  });
  return { stored, reads };
}

/**
 * The modelled cost of the layout a graph's annotations state (conversions still to be
 * materialized included). Existing annotations are read, not enforced, so any graph
 * can be priced.
 */
export function irLayoutCost(graph: Graph, device: DeviceDesc, opts: Omit<LayoutOptions, 'respectExisting'> = {}): number {
  const p = buildLayoutProblem(graph, device, { ...opts, respectExisting: false });
  return layoutCost(p, irAssignment(graph, p));
}

/** Conversion kernels in a graph (top level). */
export function conversionCount(graph: Graph): number {
  return graph.nodes.filter((n) => n.op === 'mem.to_image' || n.op === 'mem.to_buffer').length;
}

/** Kernel launches per run: one per top-level node (a fused group is one kernel). */
export function launchCount(graph: Graph): number {
  return graph.nodes.length;
}
