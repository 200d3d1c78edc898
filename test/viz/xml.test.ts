// The tests' XML reader must reject what a conforming parser rejects, or the
// "well-formed SVG" checks would prove nothing.
import { describe, expect, it } from 'vitest';
import { parseXml } from './xml.ts';

describe('test XML reader', () => {
  it('reads a document with prolog, comments, entities and nesting', () => {
    const doc = parseXml('<?xml version="1.0"?>\n<!DOCTYPE svg PUBLIC "a" "b">\n<!-- c &#45; -->\n<svg a="1 &amp; 2"><g id=\'x\'>t&lt;&#x41;&#66;<br/></g></svg>\n');
    expect(doc.name).toBe('svg');
    expect(doc.attrs.a).toBe('1 & 2');
    expect(doc.children[0].attrs.id).toBe('x');
    expect(doc.children[0].text).toBe('t<AB');
    expect(doc.children[0].children[0].name).toBe('br');
  });

  it.each([
    ['unclosed', '<a><b></a>'],
    ['misnested', '<a><b></a></b>'],
    ['unquoted attribute', '<a x=1/>'],
    ['duplicate attribute', '<a x="1" x="2"/>'],
    ['raw <', '<a x="<"/>'],
    ['raw &', '<a>x & y</a>'],
    ['unknown entity', '<a>&nbsp;</a>'],
    ['control character', '<a>\u0001</a>'],
    ['control character reference', '<a>&#1;</a>'],
    ['lone surrogate', '<a>\ud800</a>'],
    ['-- in comment', '<a><!-- a -- b --></a>'],
    ['two roots', '<a/><b/>'],
    ['text after root', '<a/>x'],
    ['no root', '<!-- x -->'],
  ])('rejects %s', (_what, src) => {
    expect(() => parseXml(src)).toThrow();
  });
});
