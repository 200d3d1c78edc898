// select-layout: the min cut is optimal (equal to an exhaustive search over every
// assignment of stored kinds, on generated graphs of up to 12 tensors and random
// device tables), never worse than the per-kernel local baseline or all-buffer, writes
// exactly the decision it priced into the types, and is idempotent. A hand-built graph
// pins the decision down as a map value -> memory kind.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Graph } from '../../../src/ir/graph.ts';
import { parseGraph, printGraph } from '../../../src/ir/text/index.ts';
import type { MemoryKind } from '../../../src/ir/types.ts';
import { assertValid } from '../../../src/ir/verifier.ts';
import { adreno, generic, getDevice, mali } from '../../../src/passes/devices/index.ts';
import type { DeviceDesc } from '../../../src/passes/devices/index.ts';
import { runPass } from '../../../src/passes/index.ts';
import { applyLayout } from '../../../src/passes/layout/apply.ts';
import { irAssignment, irLayoutCost } from '../../../src/passes/layout/inspect.ts';
import { buildLayoutProblem, conversionsOf, layoutCost } from '../../../src/passes/layout/problem.ts';
import { allBufferLayout, localLayout, minCutLayout } from '../../../src/passes/layout/solve.ts';
import { selectLayout } from '../../../src/passes/select-layout.ts';
import { irWithData } from '../ir-helpers.ts';
import { addPins, arbDevice, arbLayoutCase, close, exhaustiveMinimum, seed } from './helpers.ts';

const arbInterface = fc.constantFrom('buffer' as const, 'free' as const);

/** A generated graph with pins, its device and interface, and its problem (<= 12 tensors). */
const arbInstance = fc
  .tuple(arbLayoutCase(4), arbDevice, arbInterface, fc.array(fc.nat(), { minLength: 1, maxLength: 24 }))
  .map(([c, device, iface, picks]) => {
    const unpinned = buildLayoutProblem(c.graph, device, { interface: iface });
    const graph = addPins(c.graph, unpinned, picks);
    return { graph, device, iface, problem: buildLayoutProblem(graph, device, { interface: iface }) };
  });

function memoryMap(g: Graph): Record<string, MemoryKind | undefined> {
  const out: Record<string, MemoryKind | undefined> = {};
  for (const v of [...g.inputs, ...g.weights]) out[v.name] = v.type.memory;
  for (const n of g.nodes) for (const o of n.outputs) out[o.name] = o.type.memory;
  return out;
}

describe('select-layout cost is optimal', () => {
  it('min cut == exhaustive minimum over all 2^n stored kinds (graphs of <= 12 tensors, random devices, pins)', () => {
    let checked = 0;
    let withConversions = 0;
    fc.assert(
      fc.property(arbInstance, ({ problem }) => {
        fc.pre(problem.tensors.length <= 12);
        checked++;
        const sol = minCutLayout(problem);
        if (conversionsOf(problem, sol).length > 0) withConversions++;
        expect(close(sol.cost, layoutCost(problem, sol))).toBe(true);
        expect(close(sol.cost, exhaustiveMinimum(problem))).toBe(true);
      }),
      { seed, numRuns: 250 },
    );
    expect(checked).toBeGreaterThan(100);
    // Not vacuous: the pairwise (conversion) terms decide a fair share of the cases.
    expect(withConversions).toBeGreaterThan(10);
  });

  it('is never worse than the local baseline or all-buffer, and the graph states exactly the priced decision', () => {
    fc.assert(
      fc.property(arbInstance, ({ graph, device, iface, problem }) => {
        const sol = minCutLayout(problem);
        const local = localLayout(problem);
        expect(sol.cost).toBeLessThanOrEqual(local.cost * (1 + 1e-12));
        const buf = allBufferLayout(problem);
        if (buf.cost < Infinity) expect(sol.cost).toBeLessThanOrEqual(buf.cost * (1 + 1e-12));
        const out = applyLayout(graph, problem, sol);
        assertValid(out);
        // Read back from the IR alone, the decision costs what the solver said.
        expect(close(irLayoutCost(out, device, { interface: iface }), sol.cost)).toBe(true);
        const again = buildLayoutProblem(out, device, { interface: iface });
        expect(close(layoutCost(again, irAssignment(out, again)), sol.cost)).toBe(true);
      }),
      { seed, numRuns: 150 },
    );
  });

  it('is idempotent: a second run keeps every decision', () => {
    fc.assert(
      fc.property(arbLayoutCase(5), fc.constantFrom('adreno', 'mali', 'generic'), (c, device) => {
        const once = runPass(selectLayout, c.graph, { device });
        expect(printGraph(runPass(selectLayout, once, { device }))).toBe(printGraph(once));
      }),
      { seed, numRuns: 60 },
    );
  });
});

// x -> rms_norm -> linear(w1) -> silu -> linear(w2), plus a matvec whose last axis (6)
// is not whole RGBA texels: the contrast between tables and the feasibility rule.
const CHAIN = `graph @chain {
  input %x : f32[16]
  weight @g : f32[16]
  weight @w1 : f32[64,16]
  weight @w2 : f32[8,64]
  weight @odd : f32[8,6]
  weight @odd_x : f32[6]
  %hn = nn.rms_norm(%x, @g) {eps = 0.00001} : f32[16]
  %h = nn.linear(%hn, @w1) : f32[64]
  %a = ew.silu(%h) : f32[64]
  %y = nn.linear(%a, @w2) : f32[8]
  %o = nn.linear(@odd_x, @odd) : f32[8]
  %r = ew.add(%y, %o) : f32[8]
  return %r
}
`;

describe('select-layout decisions', () => {
  const g = irWithData(CHAIN);

  it('adreno: images wherever allowed (weights, activations); interface and odd shapes stay buffers', () => {
    expect(memoryMap(runPass(selectLayout, g, { device: 'adreno' }))).toEqual({
      x: 'buffer', // graph input (interface=buffer)
      g: 'image2d',
      w1: 'image2d',
      w2: 'image2d',
      odd: 'buffer', // last axis 6: not whole RGBA texels
      odd_x: 'buffer',
      hn: 'image2d', // read by every row of w1 through the texture cache
      h: 'image2d', // written once (1.1/byte) and read once (0.8/byte) beats 1 + 1
      a: 'image2d',
      y: 'image2d',
      o: 'image2d', // produced from buffers, but its producer can write any kind
      r: 'buffer', // graph output
    });
  });

  it('mali and generic: everything a buffer (images carry no benefit there)', () => {
    for (const device of ['mali', 'generic']) {
      const kinds = Object.values(memoryMap(runPass(selectLayout, g, { device })));
      expect(kinds.every((k) => k === 'buffer')).toBe(true);
    }
  });

  it('interface=free lets graph inputs and outputs be images, tying a state X to X.next', () => {
    const out = runPass(selectLayout, g, { device: 'adreno', interface: 'free' });
    expect(memoryMap(out).x).toBe('image2d'); // rms_norm reads x twice: the texture path wins
    const state = irWithData(`graph @s {
  input %conv : f32[8,4]
  input %x : f32[8]
  weight @w : f32[8,4]
  %y, %conv.next = ssm.conv1d_step(%conv, %x, @w) : f32[8], f32[8,4]
  return %y, %conv.next
}
`);
    const m = memoryMap(runPass(selectLayout, state, { device: 'adreno', interface: 'free' }));
    expect(m.conv).toBe(m['conv.next']);
    expect(m.conv).toBe('buffer'); // updated in place
  });

  it('existing annotations are kept; contradictory ones are reported', () => {
    const pinned = parseGraph(CHAIN.replace('%a = ew.silu(%h) : f32[64]', '%a = ew.silu(%h) : f32[64]<memory=buffer>'), { verify: false }).graph;
    const out = runPass(selectLayout, irWithData(printGraph(pinned)), { device: 'adreno' });
    expect(memoryMap(out).a).toBe('buffer');
    const bad = CHAIN.replace('weight @odd : f32[8,6]', 'weight @odd : f32[8,6]<memory=image2d>');
    expect(() => runPass(selectLayout, irWithData(bad), { device: 'adreno' })).toThrow(/@?odd is annotated image2d, but last axis 6/);
  });

  it('device tables are registered and cite their sources', () => {
    for (const d of [adreno, mali, generic] as DeviceDesc[]) {
      expect(getDevice(d.name)).toBe(d);
      expect(d.sources.length).toBeGreaterThan(0);
      expect(d.read.buffer).toBe(1);
    }
    expect(() => getDevice('nvidia')).toThrow(/unknown device 'nvidia'/);
  });
});
