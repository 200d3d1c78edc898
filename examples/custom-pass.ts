// A user pass, registered through the same public API as the built-in passes.
//
// `fold-double-neg` rewrites ew.neg(ew.neg(x)) to x: every use of the outer negation
// takes x instead, and the negations left without uses are removed by `dce` later in
// the pipeline. -(-x) == x exactly in IEEE arithmetic, so the pass is numerically a
// no-op. A negation the graph returns is left alone: output names are the graph's
// interface.
//
// Run it:  npx tsx examples/custom-pass.ts
import type { Graph } from '../src/ir/graph.ts';
import { definePass, PassManager, producers, registerPass, replaceUses } from '../src/passes/index.ts';

export const foldDoubleNeg = registerPass(
  definePass({
    name: 'fold-double-neg',
    description: 'replace ew.neg(ew.neg(x)) by x (leaves the dead negations to dce)',
    run(graph: Graph): Graph {
      const def = producers(graph);
      const returned = new Set(graph.outputs);
      const replace = new Map<string, string>();
      for (const n of graph.nodes) {
        const inner = n.op === 'ew.neg' ? def.get(n.inputs[0]) : undefined;
        if (inner?.op === 'ew.neg' && !returned.has(n.outputs[0].name)) replace.set(n.outputs[0].name, inner.inputs[0]);
      }
      return replaceUses(graph, replace);
    },
  }),
);

/** Runs `fold-double-neg,dce` on a graph (what the test and the demo below do). */
export function foldNegations(graph: Graph): Graph {
  return new PassManager('fold-double-neg,dce').run(graph).graph;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { parseGraph, printGraph } = await import('../src/ir/text/index.ts');
  const { graph } = parseGraph(
    `graph @demo {
  input %x : f32[4]
  %a = ew.neg(%x) : f32[4]
  %b = ew.neg(%a) : f32[4]
  %y = ew.silu(%b) : f32[4]
  return %y
}
`,
    { file: '<demo>' },
  );
  process.stdout.write(printGraph(foldNegations(graph)));
}
