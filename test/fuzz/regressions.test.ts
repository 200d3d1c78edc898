// Bugs the fuzz suite found, kept as plain examples so they stay fixed whatever the
// seed. Each names the reader, what went wrong before the fix, and what is expected.
import { describe, expect, it } from 'vitest';
import { MAX_ANNOTATION_ROWS, MAX_NESTING } from '../../src/ir/text/parser.ts';
import { parseGraph } from '../../src/ir/text/index.ts';
import { thrown } from '../helpers/errors.ts';
import { gpt2ByteToUnicode } from '../../src/frontend/gguf-mamba.ts';
import { hfTokenizerFromJson } from '../../src/tokenizer/hf.ts';

const graphWith = (weightType: string, rows = '1') => `graph @g {\n  input %x : f32[${rows}]\n  weight @w : ${weightType}\n  return %x\n}\n`;

describe('text IR parser', () => {
  it('a huge shape no longer lets a compact cn4/perm run expand to 10^8 entries (was ~1 GB and 12 s)', () => {
    for (const ann of ['cn4=[2x99999999]', 'perm=[0..99999999]']) {
      const t0 = performance.now();
      const e = thrown(() => parseGraph(graphWith(`f32[99999999999999999999999, 4]<${ann}>`)));
      expect(performance.now() - t0).toBeLessThan(500);
      expect(e.code).toBe('E_SYNTAX');
      expect(e.message).toContain(`more than ${MAX_ANNOTATION_ROWS} rows`);
      expect(e.location).toMatchObject({ line: 3 });
    }
    // The budget is for the whole text: two annotations of 2^21 + 1 rows exceed it together.
    const half = MAX_ANNOTATION_ROWS / 2 + 1;
    const two = `graph @g {\n  input %x : f32[1]\n  weight @a : f32[${half}, 4]<cn4=[0x${half}]>\n  weight @b : f32[${half}, 4]<cn4=[0x${half}]>\n  return %x\n}\n`;
    expect(thrown(() => parseGraph(two)).location).toMatchObject({ line: 4 });
    // A real-sized annotation still parses (the 130m head: 50280 rows).
    expect(() => parseGraph(graphWith('f32[50280, 768]<cn4=[2x50280]>'))).not.toThrow();
  });

  it('deep bracket nesting is a located E_SYNTAX, not a stack overflow (RangeError at ~500 levels)', () => {
    const attrs = (depth: number) => `graph @g {a=${'['.repeat(depth)}1${']'.repeat(depth)}} {\n  input %x : f32[1]\n  return %x\n}\n`;
    // The graph's braces and the attribute block take two levels.
    expect(() => parseGraph(attrs(MAX_NESTING - 2))).not.toThrow();
    for (const depth of [MAX_NESTING, 600, 100_000]) {
      const e = thrown(() => parseGraph(attrs(depth)));
      expect(e.code).toBe('E_SYNTAX');
      expect(e.message).toContain(`more than ${MAX_NESTING} levels`);
      // The `[` that opens level MAX_NESTING + 1: the first `[` (column 13) opens level 2.
      expect(e.location).toMatchObject({ line: 1, column: 12 + MAX_NESTING });
    }
    // Brackets inside strings and comments do not count.
    const quoted = `graph @g {s="${'['.repeat(200)}"} { // ${'{'.repeat(200)}\n  input %x : f32[1]\n  return %x\n}\n`;
    expect(parseGraph(quoted).graph.attrs.s).toBe('['.repeat(200));
  });
});

describe('tokenizer.json reader', () => {
  const tokenizerJson = (normalizer: unknown) => {
    const vocab: Record<string, number> = {};
    for (let b = 0; b < 256; b++) vocab[gpt2ByteToUnicode()[b]] = b;
    return { model: { type: 'BPE', vocab, merges: [] }, normalizer, pre_tokenizer: { type: 'ByteLevel' }, decoder: { type: 'ByteLevel' } };
  };

  it('nested normalizer Sequences thousands deep load (was a RangeError: maximum call stack size exceeded)', () => {
    let n: unknown = { type: 'NFC' };
    for (let i = 0; i < 20_000; i++) n = { type: 'Sequence', normalizers: [n] };
    const tok = hfTokenizerFromJson(tokenizerJson(n));
    // NFC composes e + U+0301 into one character: two UTF-8 bytes instead of three.
    expect(tok.encode('e\u0301').length).toBe(2);
  });

  it('keeps the order of the normalizers in a Sequence (NFD then NFC composes; NFC then NFD decomposes)', () => {
    const seq = (...types: string[]) => ({ type: 'Sequence', normalizers: types.map((type) => ({ type })) });
    expect(hfTokenizerFromJson(tokenizerJson(seq('NFD', 'NFC'))).encode('é').length).toBe(2);
    expect(hfTokenizerFromJson(tokenizerJson(seq('NFC', 'NFD'))).encode('é').length).toBe(3);
  });
});
