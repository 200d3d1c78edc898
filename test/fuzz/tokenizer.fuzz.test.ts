// Tokenizer readers (what `ssmc run` loads beside a model): Hugging Face tokenizer.json
// documents with hostile fields (ids, merges, added tokens, normalizers, unk tokens that
// name prototype keys), then the tokenizer built from them encoding and decoding
// arbitrary text. Typed errors only, bounded time and memory.
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { gpt2ByteToUnicode } from '../../src/frontend/gguf-mamba.ts';
import { hfTokenizerFromJson } from '../../src/tokenizer/hf.ts';
import { fcOptions, Tally, typedOnly } from './harness.ts';

const B = gpt2ByteToUnicode();
const MERGES = ['Ġ t', 'h e', 'Ġt he', 'l l', 'll o', 'e l'];

/** A small GPT-NeoX-shaped tokenizer.json (as test/tokenizer builds them, independently of the reader). */
function base(): Record<string, any> {
  const vocab: Record<string, number> = { '<|endoftext|>': 0 };
  for (let b = 0; b < 256; b++) vocab[B[b]] = b + 1;
  let next = 257;
  for (const m of MERGES) {
    const [l, r] = m.split(' ');
    if (vocab[l + r] === undefined) vocab[l + r] = next++;
  }
  return {
    added_tokens: [{ id: 0, content: '<|endoftext|>', special: true }, { id: next, content: '  ', special: false }],
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, use_regex: true },
    decoder: { type: 'ByteLevel' },
    model: { type: 'BPE', vocab, merges: [...MERGES], unk_token: null },
  };
}

const hostile = fc.oneof(
  fc.constantFrom<unknown>(null, true, 0, -1, 1.5, 2 ** 24, 2 ** 24 - 1, 2 ** 53, 1e308, '', ' ', 'a b c', '__proto__', 'constructor', 'toString', [], {}, ['a'], ['a', 'b'], [1, 2]),
  fc.jsonValue({ maxDepth: 2 }),
);

const edit = fc.record({
  path: fc.constantFrom(
    'model.vocab.<new>', 'model.vocab.Ġt', 'model.merges.0', 'model.merges.<push>', 'model.unk_token', 'model.type', 'model.ignore_merges',
    'added_tokens.0.id', 'added_tokens.1.content', 'added_tokens.<push>', 'normalizer', 'pre_tokenizer.add_prefix_space', 'pre_tokenizer.use_regex',
    'pre_tokenizer', 'decoder', 'model.vocab', 'model.merges', 'added_tokens', 'model',
  ),
  key: fc.constantFrom('x', 'Ġ', '__proto__', 'constructor', '<|endoftext|>', ''),
  value: hostile,
});

function apply(json: Record<string, any>, e: { path: string; key: string; value: unknown }): void {
  const parts = e.path.split('.');
  let obj: any = json;
  for (const p of parts.slice(0, -1)) {
    if (typeof obj?.[p] !== 'object' || obj[p] === null) return;
    obj = obj[p];
  }
  const last = parts.at(-1)!;
  const set = (o: any, k: string | number, v: unknown) => Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
  if (last === '<new>') set(obj, e.key, e.value);
  else if (last === '<push>') Array.isArray(obj) && obj.push(e.value);
  else set(obj, last, e.value);
}

describe('tokenizer.json fuzz', () => {
  it('hostile fields: typed errors only; a tokenizer that loads encodes and decodes any text', () => {
    const tally = new Tally();
    fc.assert(
      fc.property(fc.array(edit, { minLength: 1, maxLength: 3 }), fc.string({ unit: 'grapheme', maxLength: 24 }), (edits, text) => {
        const json = base();
        for (const e of edits) apply(json, e);
        const size = JSON.stringify(json)?.length ?? 0;
        typedOnly(() => {
          const tok = hfTokenizerFromJson(json, 'tokenizer.json');
          const ids = tok.encode(text);
          tok.decode(ids);
          const stream = tok.streamDecoder();
          for (const id of ids) stream.push(id);
          stream.flush();
        }, size, { ms: 1000 }, tally);
      }),
      fcOptions(800),
    );
    tally.expectCoverage(2);
  });

  it('deeply nested normalizer sequences', () => {
    const tally = new Tally();
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5000 }), (depth) => {
        const json = base();
        let n: any = { type: 'NFC' };
        for (let i = 0; i < depth; i++) n = { type: 'Sequence', normalizers: [n] };
        json.normalizer = n;
        typedOnly(() => hfTokenizerFromJson(json).encode('abc'), depth * 40, { ms: 1000 }, tally);
      }),
      fcOptions(20),
    );
  });
});
