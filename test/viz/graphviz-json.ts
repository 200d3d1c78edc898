// Reads DOT back through Graphviz itself (its dot_json output), so tests check what
// Graphviz understood from the text, not what the writer meant to write.
import { instance } from '@viz-js/viz';

export interface ParsedDot {
  /** DOT node `id` attribute -> its attributes. */
  readonly nodes: Map<string, Record<string, string>>;
  /** Cluster `id` -> the ids of every node inside it (nested clusters included) and its attributes. */
  readonly clusters: Map<string, { readonly nodes: Set<string>; readonly attrs: Record<string, string> }>;
  /** Every subgraph's name (clusters and any other). */
  readonly subgraphNames: string[];
  readonly edges: Array<{ readonly tail: string; readonly head: string; readonly attrs: Record<string, string> }>;
  readonly graph: Record<string, unknown>;
}

interface JsonObject {
  _gvid: number;
  name: string;
  nodes?: number[];
  [k: string]: unknown;
}

export async function parseDot(dot: string): Promise<ParsedDot> {
  const viz = await instance();
  const r = viz.render(dot, { engine: 'dot', format: 'dot_json' });
  if (r.status !== 'success') throw new Error(`Graphviz rejected the DOT: ${JSON.stringify(r.errors)}`);
  // Text metrics for non-ASCII glyphs are missing from the embedded Graphviz (it has no
  // fonts): that only affects box sizes. Any other warning is a defect of the DOT.
  const warnings = r.errors.filter((e) => !/no value for width of non-ASCII character/.test(e.message));
  if (warnings.length) throw new Error(`Graphviz warned: ${JSON.stringify(warnings)}`);
  const j = JSON.parse(r.output) as { _subgraph_cnt?: number; objects?: JsonObject[]; edges?: Array<{ tail: number; head: number; [k: string]: unknown }> };
  const objects = j.objects ?? [];
  const nsub = j._subgraph_cnt ?? 0;
  const idOf = new Map<number, string>();
  const nodes = new Map<string, Record<string, string>>();
  for (const o of objects.slice(nsub)) {
    const id = String(o.id ?? o.name);
    if (nodes.has(id)) throw new Error(`two DOT nodes with id ${id}`);
    idOf.set(o._gvid, id);
    nodes.set(id, stringAttrs(o));
  }
  const clusters = new Map<string, { nodes: Set<string>; attrs: Record<string, string> }>();
  for (const s of objects.slice(0, nsub)) {
    if (!s.name.startsWith('cluster')) continue;
    const id = String(s.id ?? s.name);
    if (clusters.has(id)) throw new Error(`two clusters with id ${id}`);
    clusters.set(id, { nodes: new Set((s.nodes ?? []).map((g) => idOf.get(g)!)), attrs: stringAttrs(s) });
  }
  const edges = (j.edges ?? []).map((e) => ({ tail: idOf.get(e.tail)!, head: idOf.get(e.head)!, attrs: stringAttrs(e) }));
  return { nodes, clusters, subgraphNames: objects.slice(0, nsub).map((s) => s.name), edges, graph: j as Record<string, unknown> };
}

function stringAttrs(o: Record<string, unknown>): Record<string, string> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => typeof v === 'string')) as Record<string, string>;
}
