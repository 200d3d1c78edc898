// reorder-weights: sorts the rows of every C_n^4 weight with mixed n by ascending n
// (stable), so that a sparse kernel meets each n as one contiguous block of rows, and
// keeps the graph computing the same function.
//
// A row sort permutes the linear's outputs. Where a whole class of channels can take
// that permutation (the axis analysis in reorder/axes.ts proves which tensors move
// together), it is folded into the neighbouring weights: e.g. dt_proj's order becomes
// the order of the d_inner channels, carried by in_proj's x and z rows (block-wise, so
// the split still holds), conv weight/bias, x_proj's columns, A, D and out_proj's
// columns. Elsewhere (a class pinned by the interface, by C_n^4 groups along another
// weight's columns, or by a second sort competing for it) a `tensor.gather` after the
// linear puts its outputs back in the order their consumers expect.
//
// State convention: conv and SSM states are graph inputs and outputs. When their
// channels move, the pass records the row permutation in the state types' `perm`
// (row i of the stored state is channel perm[i]) instead of gathering at every step:
// a runner carries the state from one step's output to the next step's input
// unchanged, a zero state is zero in any order, and whoever imports or exports a state
// maps it through `perm` (reorder/interface-layout.ts). Option permute-state=false
// keeps the interface order instead (the classes through the states are then left in
// place and the sorts are gathered).
//
// Numerics: row permutations and gathers are exact; a folded permutation also reorders
// the input features of linears and the mean of rms_norm, which changes only the order
// of their f64 sums (results equal to within 1 ulp of f32 per op).
import type { Graph } from '../ir/graph.ts';
import { definePass, option } from './pass.ts';
import { applyPlan } from './reorder/apply.ts';
import { planReorder } from './reorder/plan.ts';

export const reorderWeights = definePass({
  name: 'reorder-weights',
  description: 'sort the rows of C_n^4 weights by n; fold the permutation into neighbouring weights where exact, else gather',
  options: {
    fold: option.bool({ default: true, doc: 'fold row sorts into neighbouring weights (false: a gather after every sorted linear)' }),
    'permute-state': option.bool({ default: true, doc: 'let conv/scan states take a channel permutation, recorded in their perm annotation' }),
  },
  run(graph: Graph, o): Graph {
    return applyPlan(graph, planReorder(graph, { fold: o.fold, permuteState: o['permute-state'] }));
  },
});
