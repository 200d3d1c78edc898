// Text going into SVG and DOT: any IR string (kernel names are free text, lone
// surrogates and control characters included) becomes well-formed XML that reads back
// as its printable form, and printable text passes unchanged.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { num, printable, xmlEscape } from '../../src/viz/text.ts';
import { seed } from '../helpers/paths.ts';
import { parseXml } from './xml.ts';

const anyText = fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.string({ unit: fc.nat({ max: 0xffff }).map((c) => String.fromCharCode(c)) }));

describe('viz text', () => {
  it('escapes any string into XML that reads back as its printable form', () => {
    fc.assert(
      fc.property(anyText, (s) => {
        const doc = parseXml(`<a t="${xmlEscape(s)}">${xmlEscape(s)}</a>`);
        expect(doc.attrs.t).toBe(printable(s));
        expect(doc.text).toBe(printable(s));
        // One code unit for one: a bad character is replaced, never dropped or expanded.
        expect(printable(s)).toHaveLength(s.length);
      }),
      { numRuns: 500, seed },
    );
  });

  it('leaves printable text alone and shows control characters as control pictures', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), (s) => {
        const clean = s.replace(/[\u0000-\u001f\u007f-\u009f\ufffe\uffff]/g, '');
        expect(printable(clean)).toBe(clean);
      }),
      { numRuns: 300, seed },
    );
    expect(printable('a\nb\u0000\u007f\ud800x\udc00')).toBe('a\u240ab\u2400\u2421\ufffdx\ufffd');
    expect(printable('\ud83d\ude00')).toBe('\ud83d\ude00');
  });

  it('writes coordinates with at most two decimals and no negative zero', () => {
    expect(num(-0.001)).toBe('0');
    expect(num(1 / 3)).toBe('0.33');
    expect(num(200)).toBe('200');
  });
});
