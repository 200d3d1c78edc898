// Byte-level BPE (GPT-2 / GPT-NeoX): text -> added-token split -> ByteLevel pre-tokenizer
// (GPT-2 regex, optional prefix space) -> bytes as GPT-2 byte-to-unicode characters ->
// merges applied by rank (lowest first, leftmost on ties, as Hugging Face `tokenizers`
// does) -> ids. Decoding maps each token's characters back to bytes.
import { SsmcError } from '../errors.ts';
import { gpt2ByteToUnicode } from '../frontend/gguf-mamba.ts';
import { ByteStringTokenizer, utf8Encoder, type Tokenizer } from './tokenizer.ts';

/** GPT-2's pre-tokenizer pattern (the ByteLevel pre-tokenizer of Hugging Face `tokenizers`). */
export const GPT2_SPLIT = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

export interface AddedToken {
  readonly id: number;
  readonly content: string;
  readonly special?: boolean;
  /** Match only as a whole word. */
  readonly singleWord?: boolean;
  /** Swallow whitespace on the left / right of a match. */
  readonly lstrip?: boolean;
  readonly rstrip?: boolean;
}

export interface BpeSpec {
  readonly kind: 'hf-bpe' | 'gguf-bpe';
  /** Where it came from, for messages. */
  readonly source: string;
  /** Token text (byte-to-unicode characters) per id; undefined for ids without text. */
  readonly tokens: ReadonlyArray<string | undefined>;
  /** Merges in rank order, as [left, right] token texts. */
  readonly merges: ReadonlyArray<readonly [string, string]>;
  /** Tokens matched in the raw text before pre-tokenization; they decode to their content. */
  readonly added?: readonly AddedToken[];
  /** Ids that decode to nothing (GGUF UNUSED padding). */
  readonly silent?: ReadonlySet<number>;
  readonly addPrefixSpace?: boolean;
  /** Split with the GPT-2 regex (default true). */
  readonly useRegex?: boolean;
  /** A pre-token that is itself in the vocabulary is taken whole (Hugging Face `ignore_merges`). */
  readonly ignoreMerges?: boolean;
  readonly unk?: number;
  readonly normalize?: (s: string) => string;
  readonly bos?: number;
  readonly eos?: number;
}

const WORD = /[\p{L}\p{N}_]/u;
const SPACE = /\s/u;
const CACHE_LIMIT = 50_000;
const TWO32 = 4294967296;

export class BpeTokenizer extends ByteStringTokenizer {
  readonly kind: 'hf-bpe' | 'gguf-bpe';
  readonly vocabSize: number;
  readonly eos?: number;
  readonly bos?: number;
  readonly source: string;
  private readonly toId = new Map<string, number>();
  private readonly byteId = new Int32Array(256);
  private readonly rank = new Map<number, number>();
  private readonly mergedId: Int32Array;
  private readonly pieces: Array<Uint8Array | undefined>;
  private readonly tokens: ReadonlyArray<string | undefined>;
  private readonly addedById = new Map<number, AddedToken>();
  /** Added tokens by first UTF-16 unit, longest first. */
  private readonly addedByFirst = new Map<string, AddedToken[]>();
  private readonly silent: ReadonlySet<number>;
  private readonly addPrefixSpace: boolean;
  private readonly useRegex: boolean;
  private readonly ignoreMerges: boolean;
  private readonly unk?: number;
  private readonly normalize?: (s: string) => string;
  private readonly cache = new Map<string, Int32Array>();
  private readonly byteChar = gpt2ByteToUnicode();
  private readonly charByte = new Map<string, number>();

  constructor(spec: BpeSpec) {
    super();
    const bad = (msg: string): never => {
      throw new SsmcError('E_TOKENS', msg, { file: spec.source });
    };
    this.kind = spec.kind;
    this.source = spec.source;
    this.tokens = spec.tokens;
    this.silent = spec.silent ?? new Set();
    this.addPrefixSpace = spec.addPrefixSpace ?? false;
    this.useRegex = spec.useRegex ?? true;
    this.ignoreMerges = spec.ignoreMerges ?? false;
    this.unk = spec.unk;
    this.normalize = spec.normalize;
    this.byteChar.forEach((c, b) => this.charByte.set(c, b));
    let size = spec.tokens.length;
    spec.tokens.forEach((t, id) => {
      if (t !== undefined && !this.toId.has(t)) this.toId.set(t, id);
    });
    for (const a of spec.added ?? []) {
      if (!Number.isSafeInteger(a.id) || a.id < 0) bad(`added token ${JSON.stringify(a.content)} has a bad id ${a.id}`);
      if (a.content === '') bad(`added token ${a.id} is empty`);
      this.addedById.set(a.id, a);
      size = Math.max(size, a.id + 1);
      const first = a.content[0];
      const list = this.addedByFirst.get(first) ?? [];
      list.push(a);
      list.sort((x, y) => y.content.length - x.content.length);
      this.addedByFirst.set(first, list);
    }
    this.vocabSize = size;
    if (spec.bos !== undefined) this.bos = spec.bos;
    if (spec.eos !== undefined) this.eos = spec.eos;
    for (const [k, id] of [['bos', spec.bos], ['eos', spec.eos], ['unk', spec.unk]] as const) {
      if (id !== undefined && (!Number.isSafeInteger(id) || id < 0 || id >= size)) bad(`${k} id ${id} is outside the vocabulary of ${size}`);
    }
    for (let b = 0; b < 256; b++) this.byteId[b] = this.toId.get(this.byteChar[b]) ?? -1;
    this.mergedId = new Int32Array(spec.merges.length);
    spec.merges.forEach(([l, r], i) => {
      const a = this.toId.get(l);
      const b = this.toId.get(r);
      const m = this.toId.get(l + r);
      if (a === undefined || b === undefined || m === undefined) {
        const missing = a === undefined ? l : b === undefined ? r : l + r;
        bad(`merge ${i} (${JSON.stringify(l)} ${JSON.stringify(r)}): token ${JSON.stringify(missing)} is not in the vocabulary`);
      }
      const key = a! * TWO32 + b!;
      if (!this.rank.has(key)) this.rank.set(key, i); // a repeated merge keeps its first rank
      this.mergedId[i] = m!;
    });
    this.pieces = new Array(size);
  }

  /** The token text of an id (undefined when the id names nothing). */
  tokenText(id: number): string | undefined {
    return this.addedById.get(id)?.content ?? this.tokens[id];
  }

  encode(text: string): Int32Array {
    const t = this.normalize ? this.normalize(text) : text;
    const out: number[] = [];
    for (const seg of this.splitAdded(t)) {
      if (typeof seg === 'number') out.push(seg);
      else this.encodeSegment(seg, out);
    }
    return Int32Array.from(out);
  }

  /** Splits out added tokens (leftmost, then longest match), honouring single_word / lstrip / rstrip. */
  private splitAdded(text: string): Array<string | number> {
    if (this.addedByFirst.size === 0) return text === '' ? [] : [text];
    const out: Array<string | number> = [];
    let start = 0; // start of the pending plain text
    let i = 0;
    while (i < text.length) {
      const cands = this.addedByFirst.get(text[i]);
      const hit = cands?.find((a) => text.startsWith(a.content, i) && (!a.singleWord || this.wholeWord(text, i, i + a.content.length)));
      if (!hit) {
        i++;
        continue;
      }
      let from = i;
      let to = i + hit.content.length;
      if (hit.lstrip) while (from > start && SPACE.test(text[from - 1])) from--;
      if (hit.rstrip) while (to < text.length && SPACE.test(text[to])) to++;
      if (from > start) out.push(text.slice(start, from));
      out.push(hit.id);
      start = i = to;
    }
    if (start < text.length) out.push(text.slice(start));
    return out;
  }

  private wholeWord(text: string, from: number, to: number): boolean {
    const before = from > 0 && WORD.test(String.fromCodePoint(text.codePointAt(from - 1)!));
    const after = to < text.length && WORD.test(String.fromCodePoint(text.codePointAt(to)!));
    return !before && !after;
  }

  private encodeSegment(seg: string, out: number[]): void {
    const s = this.addPrefixSpace && !seg.startsWith(' ') ? ` ${seg}` : seg;
    if (!this.useRegex) return this.encodeWord(s, out);
    for (const m of s.matchAll(GPT2_SPLIT)) this.encodeWord(m[0], out);
  }

  private encodeWord(word: string, out: number[]): void {
    let ids = this.cache.get(word);
    if (!ids) {
      ids = this.bpe(word);
      if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
      this.cache.set(word, ids);
    }
    for (let i = 0; i < ids.length; i++) out.push(ids[i]);
  }

  /** BPE of one pre-token: a heap of candidate merges, O(n log n) in its length. */
  private bpe(word: string): Int32Array {
    const bytes = utf8Encoder.encode(word);
    if (this.ignoreMerges) {
      let mapped = '';
      for (const b of bytes) mapped += this.byteChar[b];
      const whole = this.toId.get(mapped);
      if (whole !== undefined) return Int32Array.of(whole);
    }
    const n = bytes.length;
    const ids = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const id = this.byteId[bytes[i]];
      if (id < 0) {
        if (this.unk === undefined) {
          throw new SsmcError('E_TOKENS', `the vocabulary has no token for byte 0x${bytes[i].toString(16).padStart(2, '0')} (${JSON.stringify(this.byteChar[bytes[i]])}) and no unk token`, { file: this.source });
        }
        ids[i] = -1; // unknown: never merges, becomes unk
      } else ids[i] = id;
    }
    const next = new Int32Array(n);
    const prev = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      next[i] = i + 1 < n ? i + 1 : -1;
      prev[i] = i - 1;
    }
    // Min-heap of rank * 2^32 + position: lowest rank first, leftmost on ties.
    const heap: number[] = [];
    const push = (v: number) => {
      let i = heap.length;
      heap.push(v);
      while (i > 0) {
        const p = (i - 1) >> 1;
        if (heap[p] <= v) break;
        heap[i] = heap[p];
        i = p;
      }
      heap[i] = v;
    };
    const pop = (): number => {
      const top = heap[0];
      const last = heap.pop()!;
      if (heap.length > 0) {
        let i = 0;
        for (;;) {
          const l = 2 * i + 1;
          if (l >= heap.length) break;
          const c = l + 1 < heap.length && heap[l + 1] < heap[l] ? l + 1 : l;
          if (heap[c] >= last) break;
          heap[i] = heap[c];
          i = c;
        }
        heap[i] = last;
      }
      return top;
    };
    const rankAt = (i: number): number => {
      const j = next[i];
      if (j < 0 || ids[i] < 0 || ids[j] < 0) return -1;
      return this.rank.get(ids[i] * TWO32 + ids[j]) ?? -1;
    };
    const consider = (i: number) => {
      const r = rankAt(i);
      if (r >= 0) push(r * TWO32 + i);
    };
    for (let i = 0; i + 1 < n; i++) consider(i);
    while (heap.length > 0) {
      const v = pop();
      const r = Math.floor(v / TWO32);
      const i = v - r * TWO32;
      if (ids[i] === -2 || rankAt(i) !== r) continue; // stale
      const j = next[i];
      ids[i] = this.mergedId[r];
      ids[j] = -2; // dead
      next[i] = next[j];
      if (next[j] >= 0) prev[next[j]] = i;
      if (prev[i] >= 0) consider(prev[i]);
      consider(i);
    }
    const out: number[] = [];
    for (let i = n > 0 ? 0 : -1; i >= 0; i = next[i]) out.push(ids[i] === -1 ? this.unk! : ids[i]);
    return Int32Array.from(out);
  }

  protected pieceBytes(id: number): Uint8Array {
    let p = this.pieces[id];
    if (p) return p;
    if (id >= this.vocabSize) return new Uint8Array(0);
    const added = this.addedById.get(id);
    const text = this.tokens[id];
    if (added) p = utf8Encoder.encode(added.content);
    else if (text === undefined || this.silent.has(id)) p = new Uint8Array(0);
    else {
      // As the ByteLevel decoder does: characters back to bytes; a token with a character
      // outside the byte alphabet stands for its own UTF-8.
      const bytes: number[] = [];
      for (const c of text) {
        const b = this.charByte.get(c);
        if (b === undefined) {
          bytes.length = 0;
          break;
        }
        bytes.push(b);
      }
      p = bytes.length > 0 || text === '' ? Uint8Array.from(bytes) : utf8Encoder.encode(text);
    }
    this.pieces[id] = p;
    return p;
  }
}

export type { Tokenizer };
