// Tokenizers: hand-made tokenizer.json files with expectations derived by hand, round trips
// over arbitrary strings, BPE against a naive reference, and the GGUF-embedded vocabulary.
import fc from 'fast-check';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { MambaConfig } from '../../src/frontend/checkpoint.ts';
import { gpt2ByteToUnicode, loadGgufMamba, writeGgufMamba } from '../../src/frontend/gguf-mamba.ts';
import { ByteTokenizer, hfTokenizerFromJson, loadHfTokenizer, tokenizerFor, type Tokenizer } from '../../src/tokenizer/index.ts';
import { thrown } from '../helpers/errors.ts';
import { randomCheckpoint } from '../helpers/random-model.ts';

const seed = Number(process.env.FC_SEED ?? 42);
const tmp = () => mkdtempSync(join(tmpdir(), 'ssmc-tok-'));
const B = gpt2ByteToUnicode(); // byte -> its character in byte-level vocabularies
const enc = (s: string) => new TextEncoder().encode(s);

/**
 * A GPT-NeoX-shaped tokenizer.json: id 0 "<|endoftext|>", ids 1..256 the byte alphabet
 * (id = byte + 1), then one id per merge result in merge order, then extra added tokens.
 */
function tokJson(opts: {
  merges?: string[];
  added?: Array<{ content: string; special?: boolean; single_word?: boolean; lstrip?: boolean; rstrip?: boolean }>;
  prefixSpace?: boolean;
  normalizer?: unknown;
  pairs?: boolean;
} = {}) {
  const vocab: Record<string, number> = { '<|endoftext|>': 0 };
  for (let b = 0; b < 256; b++) vocab[B[b]] = b + 1;
  let next = 257;
  const merges = opts.merges ?? [];
  for (const m of merges) {
    const [l, r] = m.split(' ');
    if (vocab[l + r] === undefined) vocab[l + r] = next++;
  }
  const added = [{ id: 0, content: '<|endoftext|>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }];
  for (const a of opts.added ?? []) added.push({ id: next++, single_word: false, lstrip: false, rstrip: false, normalized: false, special: false, ...a });
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: opts.normalizer ?? null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: opts.prefixSpace ?? false, trim_offsets: true, use_regex: true },
    post_processor: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false, byte_fallback: false,
      vocab,
      merges: opts.pairs ? merges.map((m) => m.split(' ')) : [...merges],
    },
  };
}

const MERGES = ['Ġ t', 'h e', 'Ġt he', 'l l', 'll o', `${B[0xc3]} ${B[0xa9]}`, 'e l'];
// ids: Ġt 257, he 258, Ġthe 259, ll 260, llo 261, é 262, el 263
const byte = (s: string) => [...enc(s)].map((b) => b + 1);

describe('Hugging Face tokenizer.json (byte-level BPE)', () => {
  const tok = hfTokenizerFromJson(tokJson({ merges: MERGES, added: [{ content: '  ' }] })); // "  " = 264

  it('applies merges by rank, per pre-token', () => {
    expect([...tok.encode(' the')]).toEqual([259]); // Ġt, then he, then Ġt+he
    expect([...tok.encode('hello')]).toEqual([258, 261]); // he (rank 1) before el (rank 6): he, ll, llo
    expect([...tok.encode('the hello')]).toEqual([...byte('t'), 258, ...byte(' '), 258, 261]); // "the" has no Ġ; " hello": Ġ he llo
    expect([...tok.encode('')]).toEqual([]);
    // The same merges with "e l" first give a different split of "hello".
    const elFirst = hfTokenizerFromJson(tokJson({ merges: ['e l', 'h e', 'l l', 'll o'] })); // el 257, he 258, ll 259, llo 260
    expect([...elFirst.encode('hello')]).toEqual([...byte('h'), 257, ...byte('l'), ...byte('o')]);
  });

  it('merges given as pairs mean the same', () => {
    const pairs = hfTokenizerFromJson(tokJson({ merges: MERGES, pairs: true, added: [{ content: '  ' }] }));
    for (const s of [' the hello', 'héllo wörld', 'a  b']) expect([...pairs.encode(s)]).toEqual([...tok.encode(s)]);
  });

  it('splits with the GPT-2 regex: contractions, letters, numbers, punctuation, spaces', () => {
    const plain = hfTokenizerFromJson(tokJson());
    const pieces = (s: string) => [...s.matchAll(/'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu)].map((m) => m[0]);
    expect(pieces("it's 42 ok!!   x\n")).toEqual(['it', "'s", ' 42', ' ok', '!!', '  ', ' x', '\n']);
    // Without merges every byte is one token; the split must not lose or reorder bytes.
    expect([...plain.encode("it's 42 ok!!   x\n")]).toEqual(byte("it's 42 ok!!   x\n"));
  });

  it('unicode: a merged two-byte character, and multi-byte characters as bytes', () => {
    expect([...tok.encode('é')]).toEqual([262]);
    expect([...tok.encode('héllo')]).toEqual([...byte('h'), 262, 261]); // ll (rank 3), llo (4) before é (5)
    expect([...tok.encode('日本🙂')]).toEqual(byte('日本🙂'));
    expect(tok.decode(tok.encode('日本🙂 é'))).toBe('日本🙂 é');
  });

  it('added tokens are matched whole in the raw text and decode to their content', () => {
    expect([...tok.encode('a  b')]).toEqual([...byte('a'), 264, ...byte('b')]);
    expect([...tok.encode('x<|endoftext|> the')]).toEqual([...byte('x'), 0, 259]);
    expect(tok.decode([...byte('x'), 0, 259])).toBe('x<|endoftext|> the');
    expect(tok.eos).toBe(0);
    const opts = hfTokenizerFromJson(tokJson({ added: [{ content: '<m>', lstrip: true }, { content: 'cat', single_word: true }, { content: '<r>', rstrip: true }] }));
    // ids: <m> 257, cat 258, <r> 259
    expect([...opts.encode('x <m>y')]).toEqual([...byte('x'), 257, ...byte('y')]); // lstrip swallows the space
    expect([...opts.encode('<r>  z')]).toEqual([259, ...byte('z')]); // rstrip swallows the spaces
    expect([...opts.encode('a cat')]).toEqual([...byte('a '), 258]);
    expect([...opts.encode('cats')]).toEqual(byte('cats')); // not a whole word
    expect([...opts.encode('a cat.')]).toEqual([...byte('a '), 258, ...byte('.')]);
  });

  it('add_prefix_space puts a space before the text', () => {
    const t = hfTokenizerFromJson(tokJson({ merges: MERGES, prefixSpace: true }));
    expect([...t.encode('the')]).toEqual([259]);
    expect([...t.encode(' the')]).toEqual([259]); // already starts with a space
    expect(t.decode(t.encode('the'))).toBe(' the');
  });

  it('an NFC normalizer composes before tokenizing', () => {
    const t = hfTokenizerFromJson(tokJson({ merges: MERGES, normalizer: { type: 'NFC' } }));
    expect([...t.encode('e\u0301')]).toEqual([262]);
    fc.assert(fc.property(fc.string({ unit: 'binary' }), (s) => t.decode(t.encode(s)) === s.normalize('NFC')), { seed, numRuns: 300 });
  });

  it('decode(encode(s)) === s for arbitrary strings', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'binary', maxLength: 60 }), fc.string({ unit: 'grapheme', maxLength: 30 }), fc.stringMatching(/^( ?(the|hello|é|  |<\|endoftext\|>|'s|\d+|!))*$/)), (s) => {
        expect(tok.decode(tok.encode(s))).toBe(s);
      }),
      { seed, numRuns: 500 },
    );
  });

  it('the streaming decoder gives text as soon as characters are complete', () => {
    const ids = tok.encode('日é🙂!');
    const d = tok.streamDecoder();
    const pieces = [...ids].map((id) => d.push(id));
    expect(pieces.join('') + d.flush()).toBe('日é🙂!');
    // 日 is 3 byte tokens: nothing until its last byte.
    expect(pieces.slice(0, 3)).toEqual(['', '', '日']);
    expect(pieces[3]).toBe('é');
    expect(pieces.slice(4)).toEqual(['', '', '', '🙂', '!']);
    const cut = tok.streamDecoder();
    expect(cut.push(byte('é')[0])).toBe('');
    expect(cut.flush()).toBe('\uFFFD');
  });

  it('matches a naive BPE (merge the lowest-ranked pair everywhere, repeat) on random merges', () => {
    const arb = fc.record({
      picks: fc.array(fc.tuple(fc.nat(), fc.nat()), { minLength: 1, maxLength: 40 }),
      texts: fc.array(fc.stringMatching(/^[abcd ]{0,40}$/), { minLength: 1, maxLength: 10 }),
    });
    fc.assert(
      fc.property(arb, ({ picks, texts }) => {
        // Merges built like training does: each joins two tokens that already exist.
        const toks = ['a', 'b', 'c', 'd', 'Ġ'];
        const merges: string[] = [];
        for (const [i, j] of picks) {
          const l = toks[i % toks.length];
          const r = toks[j % toks.length];
          if (merges.includes(`${l} ${r}`)) continue;
          merges.push(`${l} ${r}`);
          if (!toks.includes(l + r)) toks.push(l + r);
        }
        const t = hfTokenizerFromJson(tokJson({ merges }));
        const json = tokJson({ merges });
        const rank = new Map(merges.map((m, i) => [m, i]));
        for (const text of texts) {
          const want: number[] = [];
          for (const m of text.matchAll(/ ?[abcd]+|\s+(?!\S)|\s+/g)) {
            let sym = [...enc(m[0])].map((b) => B[b]);
            for (;;) {
              let best = -1;
              for (let k = 0; k + 1 < sym.length; k++) {
                const r = rank.get(`${sym[k]} ${sym[k + 1]}`);
                if (r !== undefined && (best < 0 || r < rank.get(`${sym[best]} ${sym[best + 1]}`)!)) best = k;
              }
              if (best < 0) break;
              const [l, r] = [sym[best], sym[best + 1]];
              const merged: string[] = [];
              for (let k = 0; k < sym.length; k++) {
                if (k + 1 < sym.length && sym[k] === l && sym[k + 1] === r) {
                  merged.push(l + r);
                  k++;
                } else merged.push(sym[k]);
              }
              sym = merged;
            }
            want.push(...sym.map((s) => (json.model.vocab as Record<string, number>)[s]));
          }
          expect([...t.encode(text)]).toEqual(want);
          expect(t.decode(t.encode(text))).toBe(text);
        }
      }),
      { seed, numRuns: 200 },
    );
  });

  it('a long run of one character is fast (heap merges, not quadratic)', () => {
    const t = hfTokenizerFromJson(tokJson({ merges: ['a a', 'aa aa', 'aaaa aaaa'] }));
    const s = 'a'.repeat(200_000);
    const t0 = performance.now();
    const ids = t.encode(s);
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(ids.length).toBe(200_000 / 8);
    expect(t.decode(ids)).toBe(s);
  });

  it('reads a file; bad files are typed errors', () => {
    const d = tmp();
    const p = join(d, 'tokenizer.json');
    writeFileSync(p, JSON.stringify(tokJson({ merges: MERGES })));
    expect([...loadHfTokenizer(p).encode(' the')]).toEqual([259]);
    writeFileSync(p, '{"model": ');
    expect(thrown(() => loadHfTokenizer(p)).code).toBe('E_TOKENS');
    expect(thrown(() => loadHfTokenizer(join(d, 'none.json'))).code).toBe('E_TOKENS');
    const noTok = tokJson({ merges: MERGES });
    (noTok.model.merges as string[]).push('x zz');
    const e = thrown(() => hfTokenizerFromJson(noTok));
    expect(e.code).toBe('E_TOKENS');
    expect(e.message).toContain('"zz"');
    const wp = tokJson();
    (wp.model as { type: string }).type = 'WordPiece';
    expect(thrown(() => hfTokenizerFromJson(wp)).code).toBe('E_UNSUPPORTED');
    const meta = { ...tokJson(), pre_tokenizer: { type: 'Metaspace' } };
    const m = thrown(() => hfTokenizerFromJson(meta));
    expect(m.code).toBe('E_UNSUPPORTED');
    expect(m.message).toContain('Metaspace');
  });
});

describe('byte-level tokenizer', () => {
  const tok = new ByteTokenizer();
  it('token = byte; decodeBytes is exact; decode(encode(s)) === s', () => {
    expect([...tok.encode('aé')]).toEqual([0x61, 0xc3, 0xa9]);
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (b) => void expect(tok.decodeBytes(b)).toEqual(b)), { seed });
    fc.assert(fc.property(fc.string({ unit: 'binary' }), (s) => tok.decode(tok.encode(s)) === s), { seed });
  });
});

describe('GGUF-embedded vocabulary', () => {
  const config = (vocabSize: number): MambaConfig => ({ dModel: 4, nLayer: 1, vocabSize, dState: 2, dConv: 2, expand: 2, dInner: 8, dtRank: 1, normEps: 1e-5, tiedHead: true, convBias: true, projBias: false });

  it('the byte-level vocabulary our writer emits round-trips bytes exactly', () => {
    const p = join(tmp(), 'm.gguf');
    writeGgufMamba(randomCheckpoint(config(260), 3), p, { fileType: 'f32' });
    const ck = loadGgufMamba(p);
    expect(ck.tokenizer?.kind).toBe('gguf');
    const tok: Tokenizer = tokenizerFor(ck);
    expect(tok.kind).toBe('gguf-bpe');
    expect(tok.vocabSize).toBe(260);
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 80 }), (s) => {
        expect([...tok.encode(s)]).toEqual([...enc(s)]);
        expect(tok.decode(tok.encode(s))).toBe(s);
      }),
      { seed },
    );
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (b) => void expect(tok.decodeBytes(b)).toEqual(b)), { seed });
    expect(tok.decode([0x61, 257, 0x62])).toBe('ab'); // [PAD257] is padding: nothing
  });

  it('a vocabulary converted from tokenizer.json encodes like the tokenizer.json', () => {
    const d = tmp();
    const json = join(d, 'tokenizer.json');
    writeFileSync(json, JSON.stringify(tokJson({ merges: MERGES, added: [{ content: '  ' }] })));
    const p = join(d, 'm.gguf');
    writeGgufMamba(randomCheckpoint(config(272), 4), p, { fileType: 'f32', tokenizer: { kind: 'hf-json', path: json } });
    const fromGguf = tokenizerFor(loadGgufMamba(p));
    const fromJson = loadHfTokenizer(json);
    for (const s of [' the hello', 'héllo  wörld<|endoftext|>', '日本🙂 é']) {
      expect([...fromGguf.encode(s)]).toEqual([...fromJson.encode(s)]);
      expect(fromGguf.decode(fromGguf.encode(s))).toBe(s);
    }
    expect(fromGguf.eos).toBe(0);
  });
});

describe('tokenizerFor', () => {
  const ck = (vocabSize: number, tokenizer?: { kind: 'hf-json'; path: string }) => ({
    config: { dModel: 4, nLayer: 1, vocabSize, dState: 2, dConv: 2, expand: 2, dInner: 8, dtRank: 1, normEps: 1e-5, tiedHead: true, convBias: true, projBias: false },
    source: '/models/x',
    ...(tokenizer ? { tokenizer } : {}),
  });
  it('bytes for vocab 256 without a tokenizer; a clear E_TOKENS otherwise', () => {
    expect(tokenizerFor(ck(256)).kind).toBe('bytes');
    const e = thrown(() => tokenizerFor(ck(50280)));
    expect(e.code).toBe('E_TOKENS');
    expect(e.message).toContain('50280');
    expect(e.message).toContain('tokenizer.json');
    expect(e.message).toContain('/models/x');
  });
  it('a tokenizer.json; one larger than the embedding is refused', () => {
    const p = join(tmp(), 'tokenizer.json');
    writeFileSync(p, JSON.stringify(tokJson({ merges: MERGES })));
    expect(tokenizerFor(ck(300, { kind: 'hf-json', path: p })).kind).toBe('hf-bpe');
    expect(thrown(() => tokenizerFor(ck(256, { kind: 'hf-json', path: p }))).code).toBe('E_TOKENS');
    expect(thrown(() => tokenizerFor(ck(300, { kind: 'hf-json', path: p + '.missing' }))).code).toBe('E_TOKENS');
  });
});
