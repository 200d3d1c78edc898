// materialize-layout: after select-layout it inserts exactly the conversions the
// decision implies (one per value and kind), leaves every kernel reading operands in
// the kind their values state, and changes no result; forced conflicts (a buffer that
// must be read as an image, an image that must be read as a buffer) get their
// conversions and still compute the interpreter's result.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Graph } from '../../../src/ir/graph.ts';
import { interpret } from '../../../src/ir/interpreter.ts';
import type { MemoryKind } from '../../../src/ir/types.ts';
import { assertValid } from '../../../src/ir/verifier.ts';
import { PassManager, runPass } from '../../../src/passes/index.ts';
import { applyLayout } from '../../../src/passes/layout/apply.ts';
import { conversionCount } from '../../../src/passes/layout/inspect.ts';
import { buildLayoutProblem, conversionsOf } from '../../../src/passes/layout/problem.ts';
import { minCutLayout } from '../../../src/passes/layout/solve.ts';
import { materializeLayout } from '../../../src/passes/materialize-layout.ts';
import { arbGraphWithInputs } from '../../../src/testing/arbitraries.ts';
import { irWithData } from '../ir-helpers.ts';
import { outputsEqual } from '../random-graphs.ts';
import { addPins, arbDevice, arbLayoutCase, seed, stripMemory } from './helpers.ts';

/** Every fused kernel reads each operand in the kind the operand is stored in. */
function readsMatchStorage(g: Graph): void {
  const kind = new Map<string, MemoryKind>();
  for (const v of [...g.inputs, ...g.weights]) kind.set(v.name, v.type.memory ?? 'buffer');
  for (const n of g.nodes) for (const o of n.outputs) kind.set(o.name, o.type.memory ?? 'buffer');
  for (const n of g.nodes) {
    n.body?.inputs.forEach((p, j) => expect(p.type.memory ?? kind.get(n.inputs[j])).toBe(kind.get(n.inputs[j])));
  }
}

const arbAnyGraph = fc.oneof(
  arbGraphWithInputs({ maxNodes: 8, maxDim: 12 }).map((c) => ({ graph: stripMemory(c.graph), inputs: c.inputs as Record<string, Float32Array | Int32Array> })),
  arbLayoutCase(6),
);

describe('materialize-layout', () => {
  it('inserts the implied conversions, reads match storage, outputs are bit-identical (random graphs, devices, pins)', () => {
    let converted = 0;
    fc.assert(
      fc.property(arbAnyGraph, arbDevice, fc.constantFrom('buffer' as const, 'free' as const), fc.array(fc.nat(), { minLength: 1, maxLength: 24 }), (c, device, iface, picks) => {
        const pinned = addPins(c.graph, buildLayoutProblem(c.graph, device, { interface: iface }), picks);
        const problem = buildLayoutProblem(pinned, device, { interface: iface });
        const sol = minCutLayout(problem);
        const chosen = applyLayout(pinned, problem, sol);
        const out = runPass(materializeLayout, chosen);
        assertValid(out);
        expect(conversionCount(out)).toBe(conversionsOf(problem, sol).length);
        if (conversionCount(out) > 0) converted++;
        readsMatchStorage(out);
        expect(runPass(materializeLayout, out)).toBe(out); // nothing left to apply
        expect(outputsEqual(interpret(out, c.inputs), interpret(c.graph, c.inputs))).toBe(true);
      }),
      { seed, numRuns: 120 },
    );
    expect(converted).toBeGreaterThan(5); // the property is not vacuous
  });

  it('leaves a graph without decisions alone', () => {
    fc.assert(
      fc.property(arbLayoutCase(6), (c) => {
        expect(runPass(materializeLayout, c.graph)).toBe(c.graph);
      }),
      { seed, numRuns: 30 },
    );
  });
});

describe('forced conflicts', () => {
  const run = (g: Graph, device: string) => new PassManager(`select-layout{device=${device}},materialize-layout`, { reproducerDir: false }).run(g).graph;

  it('a buffer-only graph input feeding a kernel that must read an image gets one shared mem.to_image', () => {
    const g = irWithData(`graph @conflict {
  input %x : f32[8]
  weight @w : f32[4,8]
  weight @v : f32[4,8]
  %y = fused.group(%x) {kernel = "linear_silu"} : f32[4] {
    param %p : f32[8]<memory=image2d>
    %t = nn.linear(%p, @w) : f32[4]
    %u = ew.silu(%t) : f32[4]
    yield %u
  }
  %z = fused.group(%x) {kernel = "linear_exp"} : f32[4] {
    param %q : f32[8]<memory=image2d>
    %t2 = nn.linear(%q, @v) : f32[4]
    %u2 = ew.exp(%t2) : f32[4]
    yield %u2
  }
  %r = ew.add(%y, %z) : f32[4]
  return %r
}
`);
    const x = Float32Array.from({ length: 8 }, (_, i) => Math.sin(i + 1));
    for (const device of ['adreno', 'mali', 'generic']) {
      const out = run(g, device);
      const convs = out.nodes.filter((n) => n.op.startsWith('mem.'));
      expect(convs.map((n) => [n.op, n.inputs[0], n.outputs[0].type.memory])).toEqual([['mem.to_image', 'x', 'image2d']]);
      expect(out.inputs[0].type.memory).toBe('buffer');
      expect(out.nodes.filter((n) => n.inputs.includes(convs[0].outputs[0].name)).length).toBe(2);
      expect(outputsEqual(interpret(out, { x }), interpret(g, { x }))).toBe(true);
    }
  });

  it('an image that a plain state update must read as a buffer: the node gets parameters and a mem.to_buffer', () => {
    const g = irWithData(`graph @state {
  input %conv : f32[8,4]
  input %x : f32[8]
  weight @w : f32[8,4]
  weight @bias : f32[8,4]
  %s = ew.add(%conv, @bias) : f32[8,4]<memory=image2d>
  %t = ew.exp(%s) : f32[8,4]
  %y, %conv.next = ssm.conv1d_step(%s, %x, @w) : f32[8], f32[8,4]
  return %y, %conv.next, %t
}
`);
    const inputs = { conv: Float32Array.from({ length: 32 }, (_, i) => Math.cos(i)), x: Float32Array.from({ length: 8 }, (_, i) => i / 8) };
    const out = run(g, 'adreno');
    expect(out.nodes.map((n) => n.op)).toEqual(['ew.add', 'ew.exp', 'mem.to_buffer', 'fused.group']);
    const step = out.nodes[3];
    expect(step.attrs.kernel).toBe('conv1d_step');
    // state: a buffer copy of the image; x: a graph input (buffer); w: uploaded as an image.
    expect(step.body!.inputs.map((p) => p.type.memory)).toEqual(['buffer', 'buffer', 'image2d']);
    expect(step.inputs[0]).toBe(out.nodes[2].outputs[0].name);
    expect(outputsEqual(interpret(out, inputs), interpret(g, inputs))).toBe(true);
  });
});
