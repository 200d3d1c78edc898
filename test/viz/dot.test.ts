// The graph drawing: read back through Graphviz, every IR node is exactly one DOT node,
// clusters are exactly the nodes with bodies and hold exactly their bodies, edges are
// exactly the data flow (parameters looked through), memory kinds and C_n^4 sparsity
// shown match the IR, and the SVG the WebAssembly Graphviz makes is well-formed.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Graph } from '../../src/ir/graph.ts';
import { walkNodes } from '../../src/ir/graph.ts';
import { parseGraph } from '../../src/ir/text/index.ts';
import { arbGraph } from '../../src/testing/arbitraries.ts';
import { graphToDot } from '../../src/viz/dot.ts';
import { focusByName } from '../../src/viz/focus.ts';
import { renderSvg } from '../../src/viz/svg.ts';
import { seed } from '../helpers/paths.ts';
import { checkDrawing } from './drawing-check.ts';
import { parseDot } from './graphviz-json.ts';

// Nested groups and a body yielding its parameter, which fuse-ops never makes but the IR allows.
const NESTED = `graph @nested {} {
  input %x : f32[4]<memory=image2d>
  input %s : f32[4]<memory=buffer>
  weight @w : f32[4,4]<memory=image2d; cn4=[2x2, 4, 0]>
  weight @v : f32[4]
  %y, %p = fused.group(%x, %s) {kernel = "outer & <more>"} : f32[4]<memory=image2d>, f32[4]<memory=buffer> {
    param %xi : f32[4]<memory=image2d>
    param %si : f32[4]<memory=buffer>
    %a = fused.group(%xi) {kernel = "inner"} : f32[4] {
      param %xj : f32[4]
      %b = nn.linear(%xj, @w) : f32[4]
      yield %b
    }
    %c = ew.mul(%a, @v) : f32[4]
    yield %c, %si
  }
  %z = ew.add(%y, %x) : f32[4]<memory=buffer>
  return %z, %p
}
`;

describe('graphToDot', () => {
  it('draws random graphs (every op kind, fused groups, annotations, odd kernel names) faithfully', async () => {
    const seen = { groups: 0, memory: 0, cn4: 0 };
    await fc.assert(
      fc.asyncProperty(arbGraph({ maxNodes: 8, maxDim: 8 }), async (g) => {
        await checkDrawing(g);
        const nodes = [...walkNodes(g)];
        seen.groups += nodes.filter((n) => n.body).length;
        seen.memory += [...g.inputs, ...g.weights, ...nodes.flatMap((n) => n.outputs)].filter((v) => v.type.memory).length;
        seen.cn4 += g.weights.filter((w) => w.type.cn4).length;
      }),
      { numRuns: 60, seed },
    );
    // The cases exercised what the drawing is about.
    expect(seen.groups).toBeGreaterThan(10);
    expect(seen.memory).toBeGreaterThan(10);
    expect(seen.cn4).toBeGreaterThan(5);
  });

  it('draws nested groups as nested clusters, looks through parameters, and escapes kernel names', async () => {
    const g = parseGraph(NESTED, { file: '<nested>' }).graph;
    await checkDrawing(g);
    const parsed = await parseDot(graphToDot(g));
    // The inner cluster sits inside the outer one; a weight is drawn in the innermost cluster holding its uses.
    expect(parsed.clusters.get('cluster:y')!.nodes).toEqual(new Set(['group:y', 'group:a', 'op:b', 'op:c', 'weight:w', 'weight:v']));
    expect(parsed.clusters.get('cluster:a')!.nodes).toEqual(new Set(['group:a', 'op:b', 'weight:w']));
    // %p is the yielded parameter %si: it comes straight from input %s.
    expect(parsed.edges.some((e) => e.tail === 'input:s' && e.head === 'group:y')).toBe(true);
    expect(parsed.clusters.get('cluster:y')!.attrs.label).toContain('outer &amp; &lt;more&gt;');
    // @w: rows with n = 2, 2, 4, 0 -> 8 of 16 weights pruned.
    expect(parsed.nodes.get('weight:w')!.label).toContain('C_n^4: 50.0% pruned');
    expect(parsed.nodes.get('weight:w')!.label).toContain('rows n=0..4: 1/0/2/0/1');
  });

  it('draws a focus: the chosen nodes once, the values crossing the cut as external nodes, nothing else', async () => {
    const g = parseGraph(NESTED, { file: '<nested>' }).graph;
    const parsed = await parseDot(graphToDot(g, { include: focusByName('^z$') }));
    expect([...parsed.nodes.keys()].sort()).toEqual(['external:y', 'input:x', 'legend', 'op:z', 'output:z'].sort());
    const parsed2 = await parseDot(graphToDot(g, { include: focusByName('^c$'), legend: false }));
    // The outer group defines %c in its body, so it is drawn whole; %y goes on to %z, left out.
    expect([...parsed2.nodes.keys()].sort()).toEqual(['group:a', 'group:y', 'input:s', 'input:x', 'op:b', 'op:c', 'output:p', 'weight:v', 'weight:w', 'external-use:y'].sort());
    expect(parsed2.edges.filter((e) => e.head === 'external-use:y')).toEqual([expect.objectContaining({ tail: 'group:y' })]);
  });

  it('gives the same bytes for the same graph', async () => {
    const g = fc.sample(arbGraph({ maxNodes: 10 }), { numRuns: 1, seed })[0];
    const again = parseGraph(NESTED, { file: '<nested>' }).graph;
    expect(graphToDot(g)).toBe(graphToDot(g));
    expect(await renderSvg(graphToDot(again))).toBe(await renderSvg(graphToDot(parseGraph(NESTED, { file: '<nested>' }).graph)));
  });

  it('rejects a graph using an undefined value with a typed error', () => {
    const g = parseGraph(NESTED, { file: '<nested>' }).graph;
    const broken = { ...g, nodes: [{ ...g.nodes[1], inputs: ['nope', 'x'] }] } as Graph;
    expect(() => graphToDot(broken)).toThrow(expect.objectContaining({ code: 'E_VERIFY' }));
  });
});
