// What a faithful drawing of a graph is, checked through Graphviz's own reading of the
// DOT: every IR node is exactly one DOT node, clusters are exactly the nodes with bodies
// and hold exactly their bodies, edges are exactly the data flow (parameters looked
// through), memory kinds and C_n^4 figures shown match the IR, and the SVG is well-formed.
import { expect } from 'vitest';
import type { Graph, Node, Region } from '../../src/ir/graph.ts';
import type { TensorType } from '../../src/ir/types.ts';
import { graphToDot } from '../../src/viz/dot.ts';
import { MEMORY_COLOR } from '../../src/viz/palette.ts';
import { renderSvg } from '../../src/viz/svg.ts';
import { parseDot, type ParsedDot } from './graphviz-json.ts';
import { byClass, parseXml } from './xml.ts';

interface Expected {
  /** DOT id of every IR node. */
  readonly nodeIds: string[];
  /** Cluster id -> ids of the IR nodes it must hold (the group itself and its body, nested bodies included). */
  readonly clusters: Map<string, Set<string>>;
  /** `tail -> head` of every edge, with the type of the value at the use. */
  readonly edges: Array<{ readonly key: string; readonly type: TensorType }>;
}

/** The ids and data flow the drawing must show, worked out from the IR alone. */
export function expected(g: Graph): Expected {
  const nodeIds: string[] = [];
  const clusters = new Map<string, Set<string>>();
  const edges: Expected['edges'] = [];
  const weights = new Map(g.weights.map((w) => [w.name, w.type]));
  type Src = { id: string; type: TensorType };
  const idOf = (n: Node, path: number[]) => `${n.body ? 'group' : 'op'}:${n.outputs[0]?.name ?? `#${path.join('.')}`}`;
  const lookup = (env: Map<string, Src>, name: string): Src => env.get(name) ?? { id: `weight:${name}`, type: weights.get(name)! };
  const region = (r: Region, env: Map<string, Src>, path: number[], owners: Set<string>[]) => {
    r.nodes.forEach((n, i) => {
      const p = [...path, i];
      const id = idOf(n, p);
      nodeIds.push(id);
      owners.forEach((o) => o.add(id));
      if (n.body) {
        const members = new Set([id]);
        clusters.set(`cluster:${id.slice('group:'.length)}`, members);
        const inner = new Map<string, Src>();
        n.body.inputs.forEach((param, j) => inner.set(param.name, { id: lookup(env, n.inputs[j]).id, type: param.type }));
        region(n.body, inner, p, [...owners, members]);
        for (const o of n.body.outputs) {
          const s = lookup(inner, o);
          edges.push({ key: `${s.id} -> ${id}`, type: s.type });
        }
      } else {
        for (const name of n.inputs) {
          const s = lookup(env, name);
          edges.push({ key: `${s.id} -> ${id}`, type: s.type });
        }
      }
      for (const v of n.outputs) env.set(v.name, { id, type: v.type });
    });
  };
  const top = new Map<string, Src>(g.inputs.map((v) => [v.name, { id: `input:${v.name}`, type: v.type }]));
  region(g, top, [], []);
  for (const o of g.outputs) {
    const s = lookup(top, o);
    edges.push({ key: `${s.id} -> output:${o}`, type: s.type });
  }
  return { nodeIds, clusters, edges };
}

const typeText = (t: TensorType) => `${t.dtype}[${t.shape.join(',')}]`;

/** Sparsity and rows per n counted from the type's per-row n, written as the drawing must show them. */
function cn4Figures(t: TensorType): { pct: string; hist: string } {
  const n = t.cn4!;
  const hist = [0, 1, 2, 3, 4].map((k) => n.filter((x) => x === k).length);
  const rows = t.shape[0];
  const pruned = n.reduce((a, b) => a + b, 0);
  return { pct: `${((100 * (rows ? pruned / (4 * rows) : 0))).toFixed(1)}%`, hist: hist.join('/') };
}

/** Checks the drawing of `g`; returns what Graphviz read, for further checks. */
export async function checkDrawing(g: Graph): Promise<{ parsed: ParsedDot; dot: string; svg: string }> {
  const dot = graphToDot(g);
  const parsed = await parseDot(dot);
  const want = expected(g);

  // Nodes: each IR node once, plus inputs, weights, outputs and the legend, nothing else.
  const ids = [...parsed.nodes.keys()].sort();
  const others = [...g.inputs.map((v) => `input:${v.name}`), ...g.weights.map((w) => `weight:${w.name}`), ...g.outputs.map((o) => `output:${o}`), 'legend'];
  expect(ids).toEqual([...want.nodeIds, ...others].sort());

  // Clusters: one per node with a body, holding exactly that group and its body (plus weights placed there).
  expect([...parsed.clusters.keys()].sort()).toEqual([...want.clusters.keys()].sort());
  expect(parsed.subgraphNames.filter((n) => n.startsWith('cluster')).length).toBe(want.clusters.size);
  for (const [cid, members] of want.clusters) {
    const inside = [...parsed.clusters.get(cid)!.nodes].filter((id) => !id.startsWith('weight:'));
    expect(inside.sort()).toEqual([...members].sort());
  }

  // Edges: exactly the data flow, coloured by the memory kind of the value at its use.
  const got = parsed.edges.map((e) => `${e.tail} -> ${e.head}`).sort();
  expect(got).toEqual(want.edges.map((e) => e.key).sort());
  const byKey = new Map<string, TensorType[]>();
  for (const e of want.edges) byKey.set(e.key, [...(byKey.get(e.key) ?? []), e.type]);
  for (const e of parsed.edges) {
    const types = byKey.get(`${e.tail} -> ${e.head}`)!;
    const mem = e.attrs.tooltip.endsWith(' buffer') ? 'buffer' : e.attrs.tooltip.endsWith(' image2d') ? 'image2d' : 'none';
    expect(types.some((t) => (t.memory ?? 'none') === mem)).toBe(true);
    expect(e.attrs.color).toBe(MEMORY_COLOR[mem]);
  }

  // Inputs and weights show their type with its memory kind; weights their C_n^4 figures.
  for (const v of [...g.inputs, ...g.weights]) {
    const label = parsed.nodes.get(`${g.weights.includes(v) ? 'weight' : 'input'}:${v.name}`)!.label;
    expect(label).toContain(v.type.memory ? `${typeText(v.type)} ${v.type.memory}` : typeText(v.type));
    if (!v.type.memory) expect(label).not.toMatch(new RegExp(`${escapeRe(typeText(v.type))} (buffer|image2d)`));
  }
  for (const w of g.weights) {
    const label = parsed.nodes.get(`weight:${w.name}`)!.label;
    if (!w.type.cn4) {
      expect(label).not.toContain('C_n^4');
      continue;
    }
    const { pct, hist } = cn4Figures(w.type);
    expect(label).toContain(`C_n^4: ${pct} pruned`);
    expect(label).toContain(`rows n=0..4: ${hist}`);
  }

  // The WebAssembly Graphviz draws it as well-formed SVG with one element per node and cluster.
  const svgText = await renderSvg(dot);
  const svg = parseXml(svgText);
  expect(svg.name).toBe('svg');
  expect(byClass(svg, 'node').map((e) => e.attrs.id).sort()).toEqual(ids);
  expect(byClass(svg, 'cluster').map((e) => e.attrs.id).sort()).toEqual([...want.clusters.keys()].sort());
  expect(byClass(svg, 'edge')).toHaveLength(want.edges.length);
  return { parsed, dot, svg: svgText };
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

