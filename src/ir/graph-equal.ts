// Structural equality of graphs: what a text round trip or a no-op pass must preserve.
// Weight data is compared bit for bit, but only for weights present in both stores,
// since a parsed graph carries no data unless it was given some.
import type { Graph, Region, Value } from './graph.ts';
import { attrsEqual } from './graph.ts';
import { formatTypeBrief, typeEqual } from './types.ts';
import type { WeightArray } from './weights.ts';

export function graphEqual(a: Graph, b: Graph): boolean {
  return graphDiff(a, b) === undefined;
}

/** The first difference between two graphs, in words, or undefined when they are equal. */
export function graphDiff(a: Graph, b: Graph): string | undefined {
  if (a.name !== b.name) return `graph name @${a.name} vs @${b.name}`;
  if (!attrsEqual(a.attrs, b.attrs)) return 'graph attributes differ';
  const d = valuesDiff('weight', a.weights, b.weights) ?? regionDiff('graph', a, b);
  if (d) return d;
  for (const [name, x] of a.weightData.entries()) {
    const y = b.weightData.tryGet(name);
    if (y && !sameBits(x, y)) return `data of @${name} differs`;
  }
  return undefined;
}

function regionDiff(where: string, a: Region, b: Region): string | undefined {
  const d = valuesDiff(`${where} input`, a.inputs, b.inputs);
  if (d) return d;
  if (a.nodes.length !== b.nodes.length) return `${where}: ${a.nodes.length} nodes vs ${b.nodes.length}`;
  for (let i = 0; i < a.nodes.length; i++) {
    const [m, n] = [a.nodes[i], b.nodes[i]];
    const at = `${where} node ${i} (${m.op})`;
    if (m.op !== n.op) return `${at}: op vs ${n.op}`;
    if (!namesEqual(m.inputs, n.inputs)) return `${at}: inputs [${m.inputs}] vs [${n.inputs}]`;
    const od = valuesDiff(`${at} output`, m.outputs, n.outputs);
    if (od) return od;
    if (!attrsEqual(m.attrs, n.attrs)) return `${at}: attributes differ`;
    if (!m.body !== !n.body) return `${at}: only one has a body`;
    const bd = m.body && n.body && regionDiff(`${at} body`, m.body, n.body);
    if (bd) return bd;
  }
  if (!namesEqual(a.outputs, b.outputs)) return `${where} outputs [${a.outputs}] vs [${b.outputs}]`;
  return undefined;
}

function valuesDiff(what: string, a: readonly Value[], b: readonly Value[]): string | undefined {
  if (a.length !== b.length) return `${what}s: ${a.length} vs ${b.length}`;
  for (let i = 0; i < a.length; i++) {
    if (a[i].name !== b[i].name) return `${what} ${i}: %${a[i].name} vs %${b[i].name}`;
    if (!typeEqual(a[i].type, b[i].type)) return `${what} %${a[i].name}: type ${formatTypeBrief(a[i].type)} vs ${formatTypeBrief(b[i].type)} (or annotations differ)`;
  }
  return undefined;
}

function namesEqual(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((n, i) => n === b[i]);
}

function sameBits(x: WeightArray, y: WeightArray): boolean {
  if (x.constructor !== y.constructor || x.length !== y.length) return false;
  const bx = new Uint8Array(x.buffer, x.byteOffset, x.byteLength);
  const by = new Uint8Array(y.buffer, y.byteOffset, y.byteLength);
  return bx.every((v, i) => v === by[i]);
}
