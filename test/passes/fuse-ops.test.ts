// fuse-ops: hand-written IR (input text -> expected printed text), the rule's
// invariants and bit-identical interpreter outputs on random graphs, and the kernels
// a Mamba decode step comes out as.
import { Graph as DiGraph, alg } from '@dagrejs/graphlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildMambaGraph, io } from '../../src/frontend/mamba-graph.ts';
import type { Graph, Node } from '../../src/ir/graph.ts';
import { interpret } from '../../src/ir/interpreter.ts';
import { getOp } from '../../src/ir/op-registry.ts';
import { printGraph } from '../../src/ir/text/index.ts';
import { numel } from '../../src/ir/types.ts';
import { assertValid } from '../../src/ir/verifier.ts';
import { fuseOps, kernelNames } from '../../src/passes/fuse-ops.ts';
import { PassManager, runPass } from '../../src/passes/index.ts';
import { arbGraphWithInputs } from '../../src/testing/arbitraries.ts';
import { Prng } from '../../src/util/prng.ts';
import { seed } from '../helpers/paths.ts';
import { arbConfig, randomCheckpoint } from '../helpers/random-model.ts';
import { checkPipeline, irWithData } from './ir-helpers.ts';
import { outputsEqual } from './random-graphs.ts';

/** The fused groups the pass created (existing nodes keep their identity). */
function newGroups(before: Graph, after: Graph): Node[] {
  const old = new Set(before.nodes);
  return after.nodes.filter((n) => !old.has(n));
}

/** The rule's invariants on every group the pass made. */
function checkGroups(before: Graph, after: Graph, maxOps: number): void {
  assertValid(after);
  for (const g of newGroups(before, after)) {
    expect(g.op).toBe('fused.group');
    const body = g.body!;
    expect(body.nodes.length).toBeGreaterThanOrEqual(2);
    expect(body.nodes.length).toBeLessThanOrEqual(maxOps);
    const classes = body.nodes.map((n) => getOp(n.op).fusion);
    expect(classes).not.toContain('opaque');
    expect(classes.filter((c) => c === 'reduction').length).toBeLessThanOrEqual(1);
    expect(typeof g.attrs.kernel).toBe('string');
    // Elementwise members read in-group values of their own size only.
    const local = new Map(body.nodes.flatMap((n) => n.outputs.map((o) => [o.name, numel(o.type.shape)] as const)));
    for (const n of body.nodes) {
      if (getOp(n.op).fusion !== 'elementwise') continue;
      for (const x of n.inputs) if (local.has(x)) expect(local.get(x)).toBe(numel(n.outputs[0].type.shape));
    }
  }
  // Every original node is in exactly one place, and the node graph has no cycle.
  const count = (g: Graph) => g.nodes.reduce((a, n) => a + (newGroups(before, after).includes(n) ? n.body!.nodes.length : 1), 0);
  expect(count(after)).toBe(before.nodes.length);
  const dag = new DiGraph();
  const def = new Map<string, number>();
  after.nodes.forEach((n, i) => {
    dag.setNode(String(i));
    n.outputs.forEach((o) => def.set(o.name, i));
  });
  after.nodes.forEach((n, i) => n.inputs.forEach((x) => def.has(x) && dag.setEdge(String(def.get(x)), String(i))));
  expect(alg.isAcyclic(dag)).toBe(true);
}

describe('fuse-ops on IR text', () => {
  it('makes a reduction take its elementwise consumers as epilogue', () => {
    checkPipeline(
      'fuse-ops',
      `graph @g {
  input %x : f32[4]
  weight @w : f32[3,4]
  weight @b : f32[3]
  %y = nn.linear(%x, @w) : f32[3]
  %s = ew.silu(%y) : f32[3]
  %t = ew.add(%s, @b) : f32[3]
  return %t
}
`,
      `graph @g {
  input %x : f32[4]
  weight @w : f32[3,4]
  weight @b : f32[3]
  %t = fused.group(%x) {kernel = "linear_silu_add"} : f32[3] {
    param %x.in : f32[4]
    %y = nn.linear(%x.in, @w) : f32[3]
    %s = ew.silu(%y) : f32[3]
    %t.out = ew.add(%s, @b) : f32[3]
    yield %t.out
  }
  return %t
}
`,
    );
  });

  it('keeps one reduction per group and never fuses across a path that leaves the group', () => {
    // %c could join %a's kernel only through %b, which depends on %a: it goes to %b's.
    checkPipeline(
      'fuse-ops',
      `graph @g {
  input %x : f32[4]
  weight @w1 : f32[4,4]
  weight @w2 : f32[4,4]
  %a = nn.linear(%x, @w1) : f32[4]
  %b = nn.linear(%a, @w2) : f32[4]
  %c = ew.add(%a, %b) : f32[4]
  return %c
}
`,
      `graph @g {
  input %x : f32[4]
  weight @w1 : f32[4,4]
  weight @w2 : f32[4,4]
  %a = nn.linear(%x, @w1) : f32[4]
  %c = fused.group(%a) {kernel = "linear_add"} : f32[4] {
    param %a.in : f32[4]
    %b = nn.linear(%a.in, @w2) : f32[4]
    %c.out = ew.add(%a.in, %b) : f32[4]
    yield %c.out
  }
  return %c
}
`,
    );
  });

  it('fuses a diamond of elementwise ops into its post-dominator and returns values used outside', () => {
    checkPipeline(
      'fuse-ops',
      `graph @g {
  input %x : f32[2,3]
  input %s : f32[3,2]
  weight @w : f32[3,2]
  %e = ew.exp(%x) : f32[2,3]
  %n = ew.neg(%x) : f32[2,3]
  %m = ew.mul(%e, %n) : f32[2,3]
  %y, %s.next = ssm.conv1d(%s, %m, @w) : f32[2,3], f32[3,2]
  %z = ew.silu(%y) : f32[2,3]
  return %z, %s.next, %e
}
`,
      `graph @g {
  input %x : f32[2,3]
  input %s : f32[3,2]
  weight @w : f32[3,2]
  %e, %m = fused.group(%x) {kernel = "exp_neg_mul"} : f32[2,3], f32[2,3] {
    param %x.in : f32[2,3]
    %e.out = ew.exp(%x.in) : f32[2,3]
    %n = ew.neg(%x.in) : f32[2,3]
    %m.out = ew.mul(%e.out, %n) : f32[2,3]
    yield %e.out, %m.out
  }
  %y, %s.next = ssm.conv1d(%s, %m, @w) : f32[2,3], f32[3,2]
  %z = ew.silu(%y) : f32[2,3]
  return %z, %s.next, %e
}
`,
    );
  });

  it('gives a reduction an elementwise prologue, and leaves broadcasts up to a larger shape alone', () => {
    checkPipeline(
      'fuse-ops',
      `graph @g {
  input %x : f32[4]
  input %u : f32[2,3]
  weight @w : f32[3,4]
  %a = ew.silu(%x) : f32[4]
  %y = nn.linear(%a, @w) : f32[3]
  %v = ew.mul(%y, %u) : f32[2,3]
  return %v
}
`,
      `graph @g {
  input %x : f32[4]
  input %u : f32[2,3]
  weight @w : f32[3,4]
  %y = fused.group(%x) {kernel = "silu_linear"} : f32[3] {
    param %x.in : f32[4]
    %a = ew.silu(%x.in) : f32[4]
    %y.out = nn.linear(%a, @w) : f32[3]
    yield %y.out
  }
  %v = ew.mul(%y, %u) : f32[2,3]
  return %v
}
`,
    );
  });

  it('leaves a graph alone with max-ops=1 and leaves existing fused groups as they are', () => {
    const text = `graph @g {
  input %x : f32[4]
  %f = fused.group(%x) {kernel = "k"} : f32[4] {
    param %p : f32[4]
    %q = ew.neg(%p) : f32[4]
    yield %q
  }
  %y = ew.exp(%f) : f32[4]
  return %y
}
`;
    checkPipeline('fuse-ops', text, text);
    const g = irWithData(text);
    expect(runPass(fuseOps, g, { 'max-ops': 1 })).toBe(g);
  });
});

/** Interpreter inputs for a Mamba decode graph: a token and random states. */
function decodeInputs(graph: Graph, rng: Prng, vocab: number): Record<string, Float32Array | Int32Array> {
  const inputs: Record<string, Float32Array | Int32Array> = {};
  for (const v of graph.inputs) {
    inputs[v.name] = v.type.dtype === 'i32' ? Int32Array.of(rng.nextU32() % vocab) : rng.fillUniform(new Float32Array(numel(v.type.shape)), -1, 1);
  }
  return inputs;
}

const LAYER_KERNELS = ['linear_split', 'conv1d_step_silu', 'linear_split', 'linear_softplus', 'scan_step_mul_add_silu_mul', 'linear_add'];

describe('fuse-ops on Mamba graphs', () => {
  it('gives 7 kernels per decode layer (+2), with bit-identical outputs', () => {
    fc.assert(
      fc.property(arbConfig, fc.integer(), (c, s) => {
        const g = buildMambaGraph(randomCheckpoint(c, s));
        const out = new PassManager('fuse-ops', { reproducerDir: false }).run(g).graph;
        checkGroups(g, out, 64);
        const expected = ['embedding_rms_norm', ...LAYER_KERNELS];
        for (let l = 1; l < c.nLayer; l++) expected.push('rms_norm', ...LAYER_KERNELS);
        expect(kernelNames(out)).toEqual([...expected, 'rms_norm', 'linear']);
        expect(out.nodes.length).toBe(7 * c.nLayer + 2);
        const inputs = decodeInputs(g, new Prng(s, 'inputs'), c.vocabSize);
        expect(outputsEqual(interpret(out, inputs), interpret(g, inputs))).toBe(true);
        expect(out.outputs).toEqual(g.outputs);
        expect(out.outputs).toContain(io.ssmNext(0));
      }),
      { seed, numRuns: 30 },
    );
  });

  it('fuses a prefill graph around its opaque conv and scan, with identical outputs', () => {
    fc.assert(
      fc.property(arbConfig, fc.integer(), fc.integer({ min: 1, max: 4 }), (c, s, L) => {
        const g = buildMambaGraph(randomCheckpoint(c, s), { mode: 'prefill', seqLen: L });
        const out = runPass(fuseOps, g);
        checkGroups(g, out, 64);
        expect(kernelNames(out).slice(0, 7)).toEqual(['embedding_rms_norm', 'linear_split', 'conv1d', 'silu_linear_split', 'linear_softplus', 'scan', 'mul_add_silu_mul_linear_add']);
        const rng = new Prng(s, 'inputs');
        const inputs: Record<string, Float32Array | Int32Array> = {};
        for (const v of g.inputs) {
          const n = numel(v.type.shape);
          inputs[v.name] = v.type.dtype === 'i32' ? Int32Array.from({ length: n }, () => rng.nextU32() % c.vocabSize) : rng.fillUniform(new Float32Array(n), -1, 1);
        }
        expect(outputsEqual(interpret(out, inputs), interpret(g, inputs))).toBe(true);
      }),
      { seed, numRuns: 10 },
    );
  });

  it('prints the fused decode layer readably (a parameter name taken by an earlier group gets a suffix)', () => {
    const c = { dModel: 2, nLayer: 1, vocabSize: 3, dState: 1, dConv: 2, expand: 1, dtRank: 1, tiedHead: true, convBias: false, projBias: false, dInner: 2, normEps: 1e-5 };
    const text = printGraph(runPass(fuseOps, buildMambaGraph(randomCheckpoint(c, 1))));
    expect(text).toContain(`  %ssm.0.next, %l0.y = fused.group(%ssm.0, %l0.x, %l0.dt, %l0.B, %l0.C, %l0.z) {kernel = "scan_step_mul_add_silu_mul"} : f32[2,1], f32[2] {
    param %ssm.0.in : f32[2,1]
    param %l0.x.in.1 : f32[2]
    param %l0.dt.in : f32[2]
    param %l0.B.in : f32[1]
    param %l0.C.in : f32[1]
    param %l0.z.in : f32[2]
    %l0.y0, %ssm.0.next.out = ssm.scan_step(%ssm.0.in, %l0.x.in.1, %l0.dt.in, @l0.A, %l0.B.in, %l0.C.in) : f32[2], f32[2,1]
    %l0.dx = ew.mul(%l0.x.in.1, @l0.D) : f32[2]
    %l0.y1 = ew.add(%l0.y0, %l0.dx) : f32[2]
    %l0.gate = ew.silu(%l0.z.in) : f32[2]
    %l0.y.out = ew.mul(%l0.y1, %l0.gate) : f32[2]
    yield %ssm.0.next.out, %l0.y.out
  }
`);
  });
});

describe('fuse-ops on random graphs', () => {
  it('keeps interpreter outputs bit-identical and obeys the rule', () => {
    fc.assert(
      fc.property(arbGraphWithInputs({ maxNodes: 14 }), fc.constantFrom(1, 2, 3, 64), ({ graph, inputs }, maxOps) => {
        const out = new PassManager(`fuse-ops{max-ops=${maxOps}}`, { reproducerDir: false }).run(graph).graph;
        checkGroups(graph, out, maxOps);
        expect(out.outputs).toEqual(graph.outputs);
        expect(outputsEqual(interpret(out, inputs), interpret(graph, inputs))).toBe(true);
        // Fusing again finds nothing more to do.
        expect(printGraph(runPass(fuseOps, out, { 'max-ops': maxOps }))).toBe(printGraph(out));
      }),
      { seed, numRuns: 200 },
    );
  });

  it('fuses chains of elementwise ops when the graph has them', () => {
    fc.assert(
      fc.property(arbGraphWithInputs({ maxNodes: 8, kinds: ['linear', 'unary', 'binary', 'split'] }), ({ graph, inputs }) => {
        const out = runPass(fuseOps, graph);
        checkGroups(graph, out, 64);
        expect(outputsEqual(interpret(out, inputs), interpret(graph, inputs))).toBe(true);
      }),
      { seed, numRuns: 200 },
    );
  });
});
