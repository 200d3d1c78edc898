// The printer emits the canonical IR text (specs/ir-text.md): parsing it back gives an
// equal graph, and printing that graph gives the same bytes. It prints any graph, valid
// or not, so that a broken pass result can still be dumped.
import type { Attr, Attrs, Graph, Node, Region } from '../graph.ts';
import type { TensorType } from '../types.ts';

const INDENT = '  ';
const BARE_KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function printGraph(g: Graph): string {
  const weights = new Set(g.weights.map((w) => w.name));
  const lines = [`graph @${g.name}${printAttrBlock(g.attrs)} {`];
  for (const v of g.inputs) lines.push(`${INDENT}input %${v.name} : ${printType(v.type)}`);
  for (const w of g.weights) lines.push(`${INDENT}weight @${w.name} : ${printType(w.type)}`);
  printRegionBody(g, weights, INDENT, 'return', lines);
  lines.push('}');
  return `${lines.join('\n')}\n`;
}

/**
 * One node (several lines when it has a body), starting at `indent`, without a
 * trailing newline. `weights` decides which operands print as `@name`.
 */
export function printNode(n: Node, weights: ReadonlySet<string> = new Set(), indent = ''): string {
  const lines: string[] = [];
  pushNode(n, weights, indent, lines);
  return lines.join('\n');
}

function pushNode(n: Node, weights: ReadonlySet<string>, indent: string, lines: string[]): void {
  const results = n.outputs.length ? `${n.outputs.map((v) => `%${v.name}`).join(', ')} = ` : '';
  const types = n.outputs.length ? ` : ${n.outputs.map((v) => printType(v.type)).join(', ')}` : '';
  const head = `${indent}${results}${n.op}(${printOperands(n.inputs, weights)})${printAttrBlock(n.attrs)}${types}`;
  if (!n.body) {
    lines.push(head);
    return;
  }
  lines.push(`${head} {`);
  const inner = indent + INDENT;
  for (const p of n.body.inputs) lines.push(`${inner}param %${p.name} : ${printType(p.type)}`);
  printRegionBody(n.body, weights, inner, 'yield', lines);
  lines.push(`${indent}}`);
}

function printRegionBody(r: Region, weights: ReadonlySet<string>, indent: string, keyword: string, lines: string[]): void {
  for (const n of r.nodes) pushNode(n, weights, indent, lines);
  const outs = printOperands(r.outputs, weights);
  lines.push(`${indent}${keyword}${outs ? ` ${outs}` : ''}`);
}

function printOperands(names: readonly string[], weights: ReadonlySet<string>): string {
  return names.map((n) => `${weights.has(n) ? '@' : '%'}${n}`).join(', ');
}

function printAttrBlock(attrs: Attrs): string {
  const entries = Object.entries(attrs);
  if (entries.length === 0) return '';
  return ` {${entries.map(([k, v]) => `${BARE_KEY.test(k) ? k : JSON.stringify(k)} = ${printAttrValue(v)}`).join(', ')}}`;
}

export function printAttrValue(v: Attr): string {
  if (typeof v === 'number') return printNumber(v);
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'boolean') return String(v);
  return `[${v.map(printAttrValue).join(', ')}]`;
}

/** Shortest round-trip form; `-0`, `nan`, `inf`, `-inf` spelled out. */
export function printNumber(v: number): string {
  if (Number.isNaN(v)) return 'nan';
  if (v === Infinity) return 'inf';
  if (v === -Infinity) return '-inf';
  if (Object.is(v, -0)) return '-0';
  return String(v);
}

export function printType(t: TensorType): string {
  const ann: string[] = [];
  if (t.memory !== undefined) ann.push(`memory=${t.memory}`);
  if (t.cn4 !== undefined) ann.push(`cn4=[${runLengths(t.cn4)}]`);
  if (t.perm !== undefined) ann.push(`perm=[${ascendingRuns(t.perm)}]`);
  return `${t.dtype}[${t.shape.join(',')}]${ann.length ? `<${ann.join('; ')}>` : ''}`;
}

/** `2x300,3x212`: value x count for each run of equal values. */
function runLengths(xs: readonly number[]): string {
  const out: string[] = [];
  for (let i = 0; i < xs.length; ) {
    let j = i + 1;
    while (j < xs.length && xs[j] === xs[i]) j++;
    out.push(`${xs[i]}x${j - i}`);
    i = j;
  }
  return out.join(',');
}

/** `0..99,200..511,5`: maximal runs of consecutive ascending values; singletons bare. */
function ascendingRuns(xs: readonly number[]): string {
  const out: string[] = [];
  for (let i = 0; i < xs.length; ) {
    let j = i + 1;
    while (j < xs.length && xs[j] === xs[j - 1] + 1) j++;
    out.push(j - i > 1 ? `${xs[i]}..${xs[j - 1]}` : `${xs[i]}`);
    i = j;
  }
  return out.join(',');
}
