// dce on hand-written IR (input text -> expected text) and, on random graphs, the
// interpreter's outputs before and after.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { walkNodes } from '../../src/ir/graph.ts';
import { interpret } from '../../src/ir/interpreter.ts';
import { dce, PassManager, runPass } from '../../src/passes/index.ts';
import { checkPipeline, irWithData } from './ir-helpers.ts';
import { arbRedundantGraph, outputsEqual } from './random-graphs.ts';

const seed = Number(process.env.FC_SEED ?? 42);

describe('dce on IR text', () => {
  it('removes nodes the outputs do not need, transitively, and unused weights', () => {
    const out = checkPipeline(
      'dce',
      `graph @g {
  input %x : f32[4]
  input %unused_input : f32[2]
  weight @w : f32[3,4]
  weight @w2 : f32[2,4]
  weight @never : f32[5]
  %y = nn.linear(%x, @w) : f32[3]
  %dead = nn.linear(%x, @w2) : f32[2]
  %dead2 = ew.exp(%dead) : f32[2]
  %z = ew.silu(%y) : f32[3]
  %dead3 = ew.add(%z, %y) : f32[3]
  return %z
}
`,
      `graph @g {
  input %x : f32[4]
  input %unused_input : f32[2]
  weight @w : f32[3,4]
  %y = nn.linear(%x, @w) : f32[3]
  %z = ew.silu(%y) : f32[3]
  return %z
}
`,
    );
    expect([...out.weightData.names()]).toEqual(['w']);
  });

  it('drops weight data that has no declaration', () => {
    const g = irWithData(
      `graph @g {
  input %x : f32[2]
  %y = ew.neg(%x) : f32[2]
  return %y
}
`,
      { orphan: new Float32Array(3) },
    );
    const out = new PassManager('dce').run(g).graph;
    expect(out.weightData.size).toBe(0);
    expect(out.nodes).toBe(g.nodes);
  });

  it('keeps a multi-output node when any output is used, and weights returned directly', () => {
    const text = `graph @g {
  input %x : f32[2,6]
  weight @w : f32[4]
  %s.0, %s.1, %s.2 = tensor.split(%x) {sizes = [2, 3, 1]} : f32[2,2], f32[2,3], f32[2,1]
  %n = ew.neg(%s.1) : f32[2,3]
  return %n, @w
}
`;
    checkPipeline('dce', text, text);
  });

  it('prunes fused bodies against what they yield', () => {
    checkPipeline(
      'dce',
      `graph @g {
  input %x : f32[4]
  weight @b : f32[4]
  weight @c : f32[4]
  %f = fused.group(%x) {kernel = "k"} : f32[4] {
    param %p : f32[4]
    %q = ew.add(%p, @b) : f32[4]
    %r = ew.mul(%p, @c) : f32[4]
    %s = ew.exp(%r) : f32[4]
    yield %q
  }
  %unused = fused.group(%x) : f32[4] {
    param %p2 : f32[4]
    %q2 = ew.add(%p2, @c) : f32[4]
    yield %q2
  }
  return %f
}
`,
      `graph @g {
  input %x : f32[4]
  weight @b : f32[4]
  %f = fused.group(%x) {kernel = "k"} : f32[4] {
    param %p : f32[4]
    %q = ew.add(%p, @b) : f32[4]
    yield %q
  }
  return %f
}
`,
    );
  });

  it('returns the same graph object when nothing is dead', () => {
    const g = irWithData(`graph @g {
  input %x : f32[4]
  %y = ew.neg(%x) : f32[4]
  return %y
}
`);
    expect(runPass(dce, g)).toBe(g);
  });
});

describe('dce on random graphs', () => {
  it('preserves the interpreter outputs, leaves nothing dead and is idempotent', () => {
    fc.assert(
      fc.property(arbRedundantGraph, ({ graph, inputs }) => {
        const out = new PassManager('dce', { reproducerDir: false }).run(graph).graph;
        expect(outputsEqual(interpret(out, inputs), interpret(graph, inputs))).toBe(true);
        expect(out.nodes.length).toBeLessThanOrEqual(graph.nodes.length);
        expect(runPass(dce, out)).toBe(out);
        // Every remaining node feeds an output: removing any one would change the graph.
        const used = new Set(out.outputs);
        for (let i = out.nodes.length - 1; i >= 0; i--) {
          const n = out.nodes[i];
          expect(n.outputs.some((o) => used.has(o.name))).toBe(true);
          n.inputs.forEach((x) => used.add(x));
        }
        for (const n of walkNodes(out)) n.inputs.forEach((x) => used.add(x));
        for (const w of out.weights) expect(used.has(w.name)).toBe(true);
      }),
      { seed, numRuns: 100 },
    );
  });
});
