// The verifier on broken graphs: each mutation of a generated valid graph is rejected
// with a diagnostic naming the node, and, once printed and parsed back, an E_VERIFY
// located at the line and column where the printer put that node.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Graph, Node, Value } from '../../src/ir/graph.ts';
import { makeGraph, nodeLabel } from '../../src/ir/graph.ts';
import { parseGraph, printGraph } from '../../src/ir/text/index.ts';
import { verify } from '../../src/ir/verifier.ts';
import { arbGraph } from '../../src/testing/arbitraries.ts';
import { seed } from '../helpers/paths.ts';
import { thrown } from '../helpers/errors.ts';

const runs = { numRuns: 60, seed };

const withNodes = (g: Graph, nodes: readonly Node[]) => makeGraph({ ...g, nodes });
const setNode = (g: Graph, i: number, f: (n: Node) => Node) => withNodes(g, g.nodes.map((n, j) => (j === i ? f(n) : n)));
const setOutput = (n: Node, f: (v: Value) => Value): Node => ({ ...n, outputs: n.outputs.map((v, i) => (i === 0 ? f(v) : v)) });

/** Lines the printer uses for a node: one, or a body between `{` and `}` (params, nodes, yield). */
function printedLines(n: Node): number {
  if (!n.body) return 1;
  return 3 + n.body.inputs.length + n.body.nodes.reduce((s, m) => s + printedLines(m), 0);
}

/** Line of top-level node `i` in printGraph's output (after the header, inputs and weights). */
function nodeLine(g: Graph, i: number): number {
  return 2 + g.inputs.length + g.weights.length + g.nodes.slice(0, i).reduce((s, n) => s + printedLines(n), 0);
}

/**
 * `bad` must be rejected because of `node`: a diagnostic names it and matches `message`;
 * parsed from its printed text, the first error is at `line`, column `column`.
 */
function expectRejected(bad: Graph, node: Node, line: number, column: number, message: RegExp): void {
  const label = nodeLabel(node);
  const diags = verify(bad);
  expect(diags.filter((d) => d.node === label).map((d) => d.message)).toContainEqual(expect.stringMatching(message));
  const e = thrown(() => parseGraph(printGraph(bad), { file: 'bad.ir' }));
  expect(e.code).toBe('E_VERIFY');
  expect(e.location).toEqual({ file: 'bad.ir', line, column, what: label });
  expect(e.message).toMatch(message);
}

describe('verifier on mutated graphs', () => {
  it('rejects a declared output type that differs from the inferred one', () => {
    fc.assert(
      fc.property(arbGraph(), fc.nat(), (g, k) => {
        const i = k % g.nodes.length;
        const bad = setNode(g, i, (n) => setOutput(n, (v) => ({ ...v, type: { ...v.type, shape: [...v.type.shape, 1] } })));
        expectRejected(bad, bad.nodes[i], nodeLine(bad, i), 3, /is declared .*, .* gives /);
      }),
      runs,
    );
  });

  it('rejects a use of an undefined value', () => {
    fc.assert(
      fc.property(arbGraph(), fc.nat(), (g, k) => {
        const i = k % g.nodes.length;
        fc.pre(g.nodes[i].inputs.length > 0);
        const bad = setNode(g, i, (n) => ({ ...n, inputs: ['nowhere.0', ...n.inputs.slice(1)] }));
        expectRejected(bad, bad.nodes[i], nodeLine(bad, i), 3, /uses undefined value %nowhere\.0/);
      }),
      runs,
    );
  });

  it('rejects a use before definition (two nodes swapped) and a node feeding itself', () => {
    fc.assert(
      fc.property(arbGraph(), fc.nat(), (g, k) => {
        const pairs: [number, number][] = [];
        g.nodes.forEach((n, j) => g.nodes.slice(0, j).forEach((m, i) => m.outputs.some((v) => n.inputs.includes(v.name)) && pairs.push([i, j])));
        fc.pre(pairs.length > 0);
        const [i, j] = pairs[k % pairs.length];
        const nodes = [...g.nodes];
        [nodes[i], nodes[j]] = [nodes[j], nodes[i]];
        const swapped = withNodes(g, nodes);
        expectRejected(swapped, swapped.nodes[i], nodeLine(swapped, i), 3, /before it is defined/);

        const own = g.nodes[j].outputs[0].name;
        const cyclic = setNode(g, j, (n) => ({ ...n, inputs: [own, ...n.inputs.slice(1)] }));
        expectRejected(cyclic, cyclic.nodes[j], nodeLine(cyclic, j), 3, new RegExp(`uses %${own.replace(/\./g, '\\.')} before it is defined`));
      }),
      runs,
    );
  });

  it('rejects a name defined twice', () => {
    fc.assert(
      fc.property(arbGraph({ maxNodes: 6 }), fc.nat(), (g, k) => {
        fc.pre(g.nodes.length >= 2);
        const j = 1 + (k % (g.nodes.length - 1));
        const dup = g.nodes[k % j].outputs[0].name;
        const bad = setNode(g, j, (n) => setOutput(n, (v) => ({ ...v, name: dup })));
        expectRejected(bad, bad.nodes[j], nodeLine(bad, j), 3, /is defined more than once/);
      }),
      runs,
    );
  });

  it('rejects a cn4 annotation of the wrong size, on a node output', () => {
    fc.assert(
      fc.property(arbGraph(), fc.nat(), (g, k) => {
        const i = k % g.nodes.length;
        const bad = setNode(g, i, (n) => setOutput(n, (v) => ({ ...v, type: { ...v.type, cn4: Array((v.type.shape[0] ?? 0) + 1).fill(2) } })));
        expectRejected(bad, bad.nodes[i], nodeLine(bad, i), 3, /cn4/);
      }),
      runs,
    );
  });

  it('rejects a cn4 annotation of the wrong size on a weight, at its declaration', () => {
    fc.assert(
      fc.property(arbGraph(), fc.nat(), (g, k) => {
        const mats = g.weights.flatMap((w, i) => (w.type.shape.length === 2 ? [i] : []));
        fc.pre(mats.length > 0);
        const i = mats[k % mats.length];
        const w = g.weights[i];
        const bad = makeGraph({ ...g, weights: g.weights.map((x) => (x === w ? { ...x, type: { ...x.type, cn4: Array(x.type.shape[0] + 1).fill(1) } } : x)) });
        expect(verify(bad).map((d) => d.message)).toContainEqual(expect.stringMatching(`cn4 lists ${w.type.shape[0] + 1} rows, tensor has ${w.type.shape[0]}`));
        const e = thrown(() => parseGraph(printGraph(bad)));
        expect(e.location).toMatchObject({ line: 2 + g.inputs.length + i, column: 3 });
      }),
      runs,
    );
  });

  it('rejects unknown and ill-typed attributes', () => {
    fc.assert(
      fc.property(arbGraph(), fc.nat(), (g, k) => {
        const i = k % g.nodes.length;
        const bad = setNode(g, i, (n) => ({ ...n, attrs: { ...n.attrs, bogus: 1 } }));
        expectRejected(bad, bad.nodes[i], nodeLine(bad, i), 3, /unknown attribute 'bogus'/);
        const norm = g.nodes.findIndex((n) => n.op === 'nn.rms_norm');
        if (norm < 0) return;
        const badEps = setNode(g, norm, (n) => ({ ...n, attrs: { eps: 'small' } }));
        expectRejected(badEps, badEps.nodes[norm], nodeLine(badEps, norm), 3, /attribute 'eps' must be float/);
      }),
      runs,
    );
  });

  it('locates errors inside a fused body at the body node', () => {
    fc.assert(
      fc.property(arbGraph({ kinds: ['fused', 'unary', 'linear'] }), fc.nat(), (g, k) => {
        const fused = g.nodes.flatMap((n, i) => (n.body ? [i] : []));
        fc.pre(fused.length > 0);
        const i = fused[k % fused.length];
        const body = g.nodes[i].body!;
        const inner = { ...body.nodes[0], inputs: ['nowhere.1'] };
        const bad = setNode(g, i, (n) => ({ ...n, body: { ...body, nodes: [inner, ...body.nodes.slice(1)] } }));
        const line = nodeLine(bad, i) + 1 + body.inputs.length;
        expectRejected(bad, bad.nodes[i].body!.nodes[0], line, 5, /uses undefined value %nowhere\.1/);
      }),
      runs,
    );
  });
});

describe('verifier on hand-written text', () => {
  it('rejects a repeated graph output at the return', () => {
    const e = thrown(() => parseGraph('graph @g {\n  input %x : f32[2]\n  %y = ew.neg(%x) : f32[2]\n  return %y, %y\n}\n'));
    expect(e.code).toBe('E_VERIFY');
    expect(e.message).toContain('output %y is listed more than once');
    expect(e.location?.line).toBe(4);
  });

  it('names weights with @ in their diagnostics', () => {
    const e = thrown(() => parseGraph('graph @g {\n  weight @w : f32[4,8]<cn4=[2x3]>\n  return @w\n}\n'));
    expect(e.message).toContain('@w: cn4 lists 3 rows, tensor has 4');
    expect(e.location?.line).toBe(2);
  });

  it('locates an undefined graph output at the return', () => {
    const e = thrown(() => parseGraph('graph @g {\n  input %x : f32[2]\n  return %x, %y\n}\n', { file: 'r.ir' }));
    expect(e.code).toBe('E_VERIFY');
    expect(e.location).toMatchObject({ file: 'r.ir', line: 3, column: 3 });
    expect(e.message).toContain('output %y is not defined');
  });

  it('locates an input that reuses a weight name at the input', () => {
    const e = thrown(() => parseGraph('graph @g {\n  input %x : f32[2]\n  input %w : f32[2]\n  weight @w : f32[2]\n  return %x\n}\n'));
    expect(e.location).toMatchObject({ line: 3, column: 3 });
    expect(e.message).toContain('input %w has the name of a weight');
  });

  it('reports an unknown op and a wrong input count at the node', () => {
    const text = 'graph @g {\n  input %x : f32[2]\n  %a = nn.frobnicate(%x) : f32[2]\n  %b = ew.add(%x) : f32[2]\n  return %a, %b\n}\n';
    const { graph, spans } = parseGraph(text, { verify: false });
    const diags = verify(graph, { spans });
    expect(diags.map((d) => [d.node, d.line, d.column, d.message])).toEqual([
      ['%a = nn.frobnicate', 3, 3, "unknown op 'nn.frobnicate'"],
      ['%b = ew.add', 4, 3, 'ew.add takes 2 inputs (a, b), got 1'],
    ]);
  });
});
