// A deliberately WRONG user pass, kept to show that `checkPass` / `ssmc check-pass`
// catch such bugs:  npx ssmc check-pass examples/wrong-pass.ts  exits 1 with a shrunk
// counter-example.
//
// `sort-commutative-operands` puts the operands of commutative elementwise ops in name
// order, so that cse sees `add(a, b)` and `add(b, a)` as the same expression. The bug:
// its list of commutative ops also holds ew.sub, and a - b is not b - a.
import type { Graph, Node } from '../src/ir/graph.ts';
import { makeGraph } from '../src/ir/graph.ts';
import { shapeEqual } from '../src/ir/types.ts';
import { definePass, registerPass } from '../src/passes/index.ts';

const COMMUTATIVE = new Set(['ew.add', 'ew.mul', 'ew.sub']); // BUG: ew.sub does not commute

export const sortCommutativeOperands = registerPass(
  definePass({
    name: 'sort-commutative-operands',
    description: 'order the operands of commutative elementwise ops by name (WRONG: includes ew.sub)',
    run(graph: Graph): Graph {
      const types = new Map([...graph.inputs, ...graph.weights, ...graph.nodes.flatMap((n) => n.outputs)].map((v) => [v.name, v.type]));
      let changed = false;
      const nodes = graph.nodes.map((n): Node => {
        const [a, b] = n.inputs;
        // Only equal shapes: swapping a broadcast operand would change the output shape.
        if (!COMMUTATIVE.has(n.op) || !(a > b) || !shapeEqual(types.get(a)!.shape, types.get(b)!.shape)) return n;
        changed = true;
        return { ...n, inputs: [b, a] };
      });
      return changed ? makeGraph({ ...graph, nodes }) : graph;
    },
  }),
);
