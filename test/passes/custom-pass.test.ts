// The documented user pass in examples/custom-pass.ts, registered through the public
// API and run from a pipeline string like any built-in pass.
import { describe, expect, it } from 'vitest';
import { foldDoubleNeg, foldNegations } from '../../examples/custom-pass.ts';
import { interpret } from '../../src/ir/interpreter.ts';
import { parseGraph, printGraph } from '../../src/ir/text/index.ts';
import { getPass, listPasses, PassManager } from '../../src/passes/index.ts';

const input = `graph @negs {
  input %x : f32[4]
  %a = ew.neg(%x) : f32[4]
  %b = ew.neg(%a) : f32[4]
  %c = ew.neg(%b) : f32[4]
  %d = ew.neg(%c) : f32[4]
  %y = ew.mul(%d, %b) : f32[4]
  %e = ew.neg(%y) : f32[4]
  %f = ew.neg(%e) : f32[4]
  return %y, %f
}
`;

const expected = `graph @negs {
  input %x : f32[4]
  %y = ew.mul(%x, %x) : f32[4]
  %e = ew.neg(%y) : f32[4]
  %f = ew.neg(%e) : f32[4]
  return %y, %f
}
`;

describe('examples/custom-pass.ts', () => {
  it('registers through the public API', () => {
    expect(getPass('fold-double-neg')).toBe(foldDoubleNeg);
    expect(listPasses().map((p) => p.name)).toContain('fold-double-neg');
  });

  it('runs from a pipeline string, with dce after it', () => {
    const g = parseGraph(input, { file: 'negs.ir' }).graph;
    const out = new PassManager('fold-double-neg,dce').run(g).graph;
    expect(printGraph(out)).toBe(expected);
    expect(printGraph(foldNegations(g))).toBe(expected);
    const xs = { x: [1.5, -2, 0, 3e-7] };
    expect(interpret(out, xs)).toEqual(interpret(g, xs));
  });

  it('leaves the dead negations to dce', () => {
    const g = parseGraph(input, { file: 'negs.ir' }).graph;
    const out = new PassManager('fold-double-neg').run(g).graph;
    expect(out.nodes.length).toBe(g.nodes.length);
    expect(printGraph(out)).toContain('%y = ew.mul(%x, %x)');
  });
});
