// The IR graph as Graphviz DOT. Every IR node is one DOT node; a node with a body (a
// fused group from `fuse-ops`) is additionally a cluster holding its body's nodes and
// one "results" node standing for the group itself, where the body's yielded values
// meet. Edges follow data: a use inside a body is drawn from wherever the value really
// comes from (the parameter is looked through), so a fused kernel's inputs visibly
// enter its cluster. Edge colour is the memory kind of the value as typed at the use
// (after `select-layout`), weights are drawn with their C_n^4 sparsity.
//
// Ids (DOT node names, and the `id` of the SVG elements Graphviz makes) are stable and
// meant for tools and tests:
//   op:NAME / group:NAME / cluster:NAME  an op / a node with a body / its cluster,
//                                        NAME = the node's first result (op:#PATH when
//                                        it has none; PATH = indices through bodies)
//   input:NAME  weight:NAME  output:NAME graph inputs, weights, outputs
//   external:NAME  external-use:NAME     values crossing a focus cut (see `include`)
//   legend
import type { Graph, Node, Region } from '../ir/graph.ts';
import type { TensorType } from '../ir/types.ts';
import { SsmcError } from '../errors.ts';
import { clusterLabel, externalLabel, inputLabel, opLabel, outputLabel, typeText, weightLabel, cn4Summary } from './labels.ts';
import { legendLabel } from './legend.ts';
import { GROUP_BORDER, GROUP_FILL, INPUT_FILL, MEMORY_COLOR, OUTPUT_FILL, RESULTS_FILL, weightFill } from './palette.ts';
import { dotString, xmlEscape } from './text.ts';

export interface DotOptions {
  /** Title above the drawing (default: the graph's name). */
  readonly title?: string;
  /**
   * Draw only the top-level nodes this accepts (default: all). Values they use from
   * left-out nodes appear as `external:` nodes, values left-out nodes use from them as
   * `external-use:` nodes; inputs, weights and outputs not connected are left out.
   */
  readonly include?: (node: Node, index: number) => boolean;
  /** Draw the legend (default true). */
  readonly legend?: boolean;
  /** Direction of data flow (default TB: top to bottom). */
  readonly rankdir?: 'TB' | 'LR';
}

/** Where a value comes from, as seen at a use. */
interface Ref {
  readonly id: string;
  readonly kind: 'input' | 'weight' | 'op' | 'external';
  /** The value's type in the scope of the use (a body parameter's own type, say). */
  readonly type: TensorType;
  /** The IR name, for tooltips. */
  readonly name: string;
}

class Scope {
  readonly #refs = new Map<string, Ref>();
  set(name: string, ref: Ref): void {
    this.#refs.set(name, ref);
  }
  get(name: string): Ref | undefined {
    return this.#refs.get(name);
  }
}

/** Statements of the root graph or of one cluster, printed in order, clusters after nodes. */
interface Bucket {
  readonly stmts: string[];
  readonly clusters: Array<{ readonly id: string; readonly header: string; readonly bucket: Bucket }>;
}

const bucket = (): Bucket => ({ stmts: [], clusters: [] });

/** The DOT id of an IR node (see the file comment). */
export function nodeDotId(node: Node, path: readonly number[]): string {
  const name = node.outputs[0]?.name;
  const what = name !== undefined ? name : `#${path.join('.')}`;
  return `${node.body ? 'group' : 'op'}:${what}`;
}

/** The DOT id of the cluster of a node with a body. */
export function clusterDotId(node: Node, path: readonly number[]): string {
  return `cluster:${nodeDotId(node, path).slice('group:'.length)}`;
}

function attrList(attrs: Record<string, string>): string {
  return Object.entries(attrs)
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
}

function nodeStmt(id: string, attrs: Record<string, string>): string {
  return `${dotString(id)} [${attrList({ id: dotString(id), ...attrs })}];`;
}

export function graphToDot(graph: Graph, options: DotOptions = {}): string {
  return new DotBuilder(graph, options).build();
}

class DotBuilder {
  readonly #g: Graph;
  readonly #o: DotOptions;
  readonly #weights: Map<string, TensorType>;
  readonly #top = bucket();
  /** Cluster id -> its bucket, for placing weights. */
  readonly #buckets = new Map<string, Bucket>([['', this.#top]]);
  /** Cluster paths (ids from the root) of every use of each weight. */
  readonly #weightUses = new Map<string, string[][]>();
  readonly #usedInputs = new Set<string>();
  readonly #externals = new Map<string, TensorType>();
  readonly #externalUses = new Map<string, Ref>();
  readonly #edges: string[] = [];
  #ops = 0;
  #groups = 0;

  constructor(graph: Graph, options: DotOptions) {
    this.#g = graph;
    this.#o = options;
    this.#weights = new Map(graph.weights.map((w) => [w.name, w.type]));
  }

  build(): string {
    const g = this.#g;
    const top = new Scope();
    for (const v of g.inputs) top.set(v.name, { id: `input:${v.name}`, kind: 'input', type: v.type, name: v.name });
    this.#region(g, top, this.#top, [], [], true);
    const outputs: string[] = [];
    for (const name of g.outputs) {
      const ref = this.#lookup(top, name);
      if (this.#o.include && ref.kind !== 'op') continue; // not produced inside the focus
      const id = `output:${name}`;
      outputs.push(nodeStmt(id, { label: outputLabel(name, ref.type), shape: 'house', style: '"filled"', fillcolor: dotString(OUTPUT_FILL), tooltip: dotString(`output %${name} : ${typeText(ref.type)}`) }));
      this.#use(ref, id, []);
    }
    return this.#print(outputs);
  }

  /** Resolves a name at a use: the region's scope (regions are closed), then the graph's weights. */
  #lookup(scope: Scope, name: string): Ref {
    const r = scope.get(name);
    if (r) return r;
    const w = this.#weights.get(name);
    if (w) return { id: `weight:${name}`, kind: 'weight', type: w, name };
    throw new SsmcError('E_VERIFY', `value %${name} is used but not defined`, { what: name });
  }

  /** Records a use of `ref` by the DOT node `to` (inside the clusters `path`) and draws its edge. */
  #use(ref: Ref, to: string, path: string[]): void {
    if (ref.kind === 'weight') {
      const uses = this.#weightUses.get(ref.name) ?? [];
      uses.push(path);
      this.#weightUses.set(ref.name, uses);
    } else if (ref.kind === 'input') this.#usedInputs.add(ref.name);
    else if (ref.kind === 'external') this.#externals.set(ref.name, ref.type);
    const mem = ref.type.memory ?? 'none';
    const attrs: Record<string, string> = {
      color: dotString(MEMORY_COLOR[mem]),
      penwidth: mem === 'image2d' ? '2' : mem === 'buffer' ? '1.6' : '1',
      tooltip: dotString(`${ref.kind === 'weight' ? '@' : '%'}${ref.name} : ${typeText(ref.type)}`),
    };
    if (ref.kind === 'weight') attrs.style = 'dashed';
    this.#edges.push(`${dotString(ref.id)} -> ${dotString(to)} [${attrList(attrs)}];`);
  }

  #region(region: Region, scope: Scope, into: Bucket, path: string[], indexPath: number[], topLevel: boolean): void {
    region.nodes.forEach((node, i) => {
      const at = [...indexPath, i];
      if (topLevel && this.#o.include && !this.#o.include(node, i)) {
        // Left out: what it uses from the drawing is "used outside", what it defines is "from outside".
        for (const name of node.inputs) {
          const ref = this.#lookup(scope, name);
          if (ref.kind === 'op' && !this.#externalUses.has(name)) this.#externalUses.set(name, ref);
        }
        for (const v of node.outputs) scope.set(v.name, { id: `external:${v.name}`, kind: 'external', type: v.type, name: v.name });
        return;
      }
      const id = nodeDotId(node, at);
      const tooltip = dotString(`${node.outputs.map((v) => `%${v.name}`).join(', ')}${node.outputs.length ? ' = ' : ''}${node.op}(${node.inputs.map((n) => (this.#weights.has(n) && !scope.get(n) ? `@${n}` : `%${n}`)).join(', ')})`);
      if (node.body) {
        this.#groups++;
        const cid = clusterDotId(node, at);
        const inner = bucket();
        this.#buckets.set(cid, inner);
        into.clusters.push({
          id: cid,
          header: attrList({ id: dotString(cid), label: clusterLabel(node), tooltip, style: '"rounded,filled"', color: dotString(GROUP_BORDER), fillcolor: dotString(GROUP_FILL), fontsize: '10', labeljust: 'l' }),
          bucket: inner,
        });
        // Regions are closed: the body sees its parameters (bound to the node's operands) and the weights.
        const bodyScope = new Scope();
        node.body.inputs.forEach((p, j) => {
          const outer = this.#lookup(scope, node.inputs[j]);
          bodyScope.set(p.name, { ...outer, type: p.type });
        });
        const innerPath = [...path, cid];
        this.#region(node.body, bodyScope, inner, innerPath, at, false);
        inner.stmts.push(nodeStmt(id, { label: opLabel(node), style: '"rounded,filled"', fillcolor: dotString(RESULTS_FILL), tooltip }));
        for (const name of node.body.outputs) this.#use(this.#lookup(bodyScope, name), id, innerPath);
      } else {
        this.#ops++;
        into.stmts.push(nodeStmt(id, { label: opLabel(node), tooltip }));
        for (const name of node.inputs) this.#use(this.#lookup(scope, name), id, path);
      }
      for (const v of node.outputs) scope.set(v.name, { id, kind: 'op', type: v.type, name: v.name });
    });
  }

  #print(outputStmts: string[]): string {
    const g = this.#g;
    const all = !this.#o.include;
    const lines: string[] = [`digraph ${dotString(`ssmc:${g.name}`)} {`];
    lines.push(`  graph [${attrList({ rankdir: this.#o.rankdir ?? 'TB', fontname: '"Helvetica"', fontsize: '12', newrank: 'true', nodesep: '0.25', ranksep: '0.35', labelloc: 't' })}];`);
    lines.push(`  node [${attrList({ fontname: '"Helvetica"', fontsize: '10', shape: 'box', style: '"rounded"', margin: '"0.1,0.05"', height: '0.3' })}];`);
    lines.push(`  edge [${attrList({ arrowsize: '0.6' })}];`);
    if (this.#o.legend ?? true) lines.push(`  ${nodeStmt('legend', { label: legendLabel(), shape: 'plaintext', margin: '0' })}`);
    for (const v of g.inputs) {
      if (!all && !this.#usedInputs.has(v.name)) continue;
      lines.push(`  ${nodeStmt(`input:${v.name}`, { label: inputLabel(v.name, v.type), shape: 'invhouse', style: '"filled"', fillcolor: dotString(INPUT_FILL), color: dotString(MEMORY_COLOR[v.type.memory ?? 'none']), tooltip: dotString(`input %${v.name} : ${typeText(v.type)}`) })}`);
    }
    for (const [name, t] of this.#externals) {
      lines.push(`  ${nodeStmt(`external:${name}`, { label: externalLabel(name, t, 'from'), shape: 'box', style: '"dashed"', tooltip: dotString(`%${name} (defined outside the drawing)`) })}`);
    }
    // A weight sits in the innermost cluster holding all its uses.
    for (const w of g.weights) {
      const uses = this.#weightUses.get(w.name);
      if (!uses && !all) continue;
      const where = uses ? commonPrefix(uses) : [];
      const target = this.#buckets.get(where[where.length - 1] ?? '')!;
      const s = cn4Summary(w.type);
      target.stmts.unshift(nodeStmt(`weight:${w.name}`, { label: weightLabel(w.name, w.type), shape: 'cylinder', style: '"filled"', fillcolor: dotString(weightFill(s?.sparsity)), color: dotString(MEMORY_COLOR[w.type.memory ?? 'none']), tooltip: dotString(`weight @${w.name} : ${typeText(w.type)}`) }));
    }
    printBucket(this.#top, lines, '  ');
    lines.push(...outputStmts.map((s) => `  ${s}`));
    for (const [name, ref] of this.#externalUses) {
      const id = `external-use:${name}`;
      lines.push(`  ${nodeStmt(id, { label: externalLabel(name, ref.type, 'to'), shape: 'box', style: '"dashed"', tooltip: dotString(`%${name} (used outside the drawing)`) })}`);
      this.#use(ref, id, []);
    }
    lines.push(...this.#edges.map((e) => `  ${e}`));
    // Root label and id last: set earlier, Graphviz would make them every cluster's default.
    const title = this.#o.title ?? g.name;
    const drawn = g.weights.filter((w) => all || this.#weightUses.has(w.name));
    const sparse = drawn.filter((w) => w.type.cn4).length;
    const summary = `${all ? '' : 'part of the graph: '}${this.#ops} ops, ${this.#groups} fused groups, ${drawn.length} weights (${sparse} C_n^4 sparse)`;
    lines.push(`  id=${dotString(`graph:${g.name}`)};`);
    lines.push(`  label=<<B>${xmlEscape(title)}</B><BR/><FONT POINT-SIZE="9">${xmlEscape(summary)}</FONT>>;`);
    lines.push('}');
    return `${lines.join('\n')}\n`;
  }
}

function printBucket(b: Bucket, lines: string[], indent: string): void {
  for (const s of b.stmts) lines.push(`${indent}${s}`);
  for (const c of b.clusters) {
    lines.push(`${indent}subgraph ${dotString(c.id)} {`);
    lines.push(`${indent}  graph [${c.header}];`);
    printBucket(c.bucket, lines, `${indent}  `);
    lines.push(`${indent}}`);
  }
}

function commonPrefix(paths: readonly string[][]): string[] {
  let prefix = paths[0];
  for (const p of paths.slice(1)) {
    let k = 0;
    while (k < prefix.length && k < p.length && prefix[k] === p[k]) k++;
    prefix = prefix.slice(0, k);
  }
  return prefix;
}
