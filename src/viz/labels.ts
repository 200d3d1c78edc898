// Node labels of the graph drawing, as Graphviz HTML-like labels (XML): the op kind in
// bold, the result names small, one line per result type with its memory kind coloured
// as its edges are; a weight also shows its C_n^4 sparsity and rows per n.
import type { Node } from '../ir/graph.ts';
import type { TensorType } from '../ir/types.ts';
import { histogram, rowsSparsity } from '../passes/sparsity/report.ts';
import { MEMORY_COLOR } from './palette.ts';
import { percent, xmlEscape } from './text.ts';

/** Most result names / types listed on one node before "+k more". */
const MAX_LISTED = 4;

/**
 * `f32[512,128] image2d`, in the colour of its memory kind when decided (as its edges
 * are), plus `rows permuted` for a permuted weight. One span per line: renderers whose
 * font is wider than Graphviz's Helvetica metrics would overlap spans on one line.
 */
export function typeHtml(t: TensorType): string {
  const s = xmlEscape(`${typeText(t)}${t.perm ? ' rows permuted' : ''}`);
  return t.memory ? `<FONT COLOR="${MEMORY_COLOR[t.memory]}">${s}</FONT>` : s;
}

/** Plain-text form of a type for tooltips: `f32[512,128] image2d`. */
export function typeText(t: TensorType): string {
  return `${t.dtype}[${t.shape.join(',')}]${t.memory ? ` ${t.memory}` : ''}`;
}

/** The C_n^4 summary of a weight type: sparsity and rows with n = 0..4; undefined when dense. */
export function cn4Summary(t: TensorType): { sparsity: number; histogram: number[] } | undefined {
  return t.cn4 ? { sparsity: rowsSparsity(t.cn4), histogram: histogram(t.cn4) } : undefined;
}

function listed<T>(xs: readonly T[], show: (x: T) => string, sep: string): string {
  const shown = xs.slice(0, MAX_LISTED).map(show);
  if (xs.length > MAX_LISTED) shown.push(`+${xs.length - MAX_LISTED} more`);
  return shown.join(sep);
}

function small(html: string): string {
  return `<FONT POINT-SIZE="8" COLOR="#555555">${html}</FONT>`;
}

/** An op (or a fused group's results node): kind, result names, result types. */
export function opLabel(node: Node): string {
  const lines = [`<B>${xmlEscape(node.op)}</B>`];
  if (node.outputs.length) lines.push(small(listed(node.outputs, (v) => xmlEscape(`%${v.name}`), ', ')));
  if (node.outputs.length) lines.push(listed(node.outputs, (v) => typeHtml(v.type), '<BR/>'));
  return `<${lines.join('<BR/>')}>`;
}

export function inputLabel(name: string, t: TensorType): string {
  return `<<B>${xmlEscape(`input %${name}`)}</B><BR/>${typeHtml(t)}>`;
}

export function outputLabel(name: string, t: TensorType): string {
  return `<<B>${xmlEscape(`output %${name}`)}</B><BR/>${typeHtml(t)}>`;
}

/** A value cut off by a focus: defined outside the drawing (`from`) or used outside it (`to`). */
export function externalLabel(name: string, t: TensorType, dir: 'from' | 'to'): string {
  return `<${dir === 'from' ? 'from outside' : 'used outside'}<BR/>${xmlEscape(`%${name}`)}<BR/>${typeHtml(t)}>`;
}

export function weightLabel(name: string, t: TensorType): string {
  const lines = [`<B>${xmlEscape(`@${name}`)}</B>`, typeHtml(t)];
  const s = cn4Summary(t);
  if (s) {
    lines.push(`C_n^4: ${percent(s.sparsity)} pruned`);
    lines.push(small(`rows n=0..4: ${s.histogram.join('/')}`));
  }
  return `<${lines.join('<BR/>')}>`;
}

/** A cluster's title: the kernel name when the node has one, else its op kind. */
export function clusterLabel(node: Node): string {
  const kernel = node.attrs.kernel;
  const title = typeof kernel === 'string' && kernel !== '' ? kernel : node.op;
  return `<<B>${xmlEscape(title)}</B><BR/>${small(xmlEscape(node.op))}>`;
}
