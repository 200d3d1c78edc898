// A few helpers for writing SVG by hand: elements with attributes in the order given,
// numbers at fixed precision (so the same data gives the same bytes), text escaped.
import { num, xmlEscape } from './text.ts';

export type AttrValue = string | number | undefined;

/** `<name a="v" ...>children</name>`, self-closed without children; undefined attributes are left out. */
export function el(name: string, attrs: Readonly<Record<string, AttrValue>>, ...children: string[]): string {
  const a = Object.entries(attrs)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => ` ${k}="${typeof v === 'number' ? num(v) : xmlEscape(v as string)}"`)
    .join('');
  return children.length ? `<${name}${a}>${children.join('')}</${name}>` : `<${name}${a}/>`;
}

/** A text element; `content` is plain text (escaped here). */
export function text(x: number, y: number, content: string, attrs: Readonly<Record<string, AttrValue>> = {}): string {
  return el('text', { x, y, ...attrs }, xmlEscape(content));
}

/** A tooltip: SVG shows a child <title> on hover. */
export function tooltip(content: string): string {
  return el('title', {}, xmlEscape(content));
}
