// Text <-> token ids. Every tokenizer here is byte-level: each id stands for a byte string,
// so decoding is "concatenate the bytes, then read them as UTF-8", and a streaming decoder
// can hand out text as soon as complete UTF-8 characters exist.
import { SsmcError } from '../errors.ts';

export interface StreamDecoder {
  /** Feeds one id; returns the text that became complete (possibly ''). */
  push(id: number): string;
  /** The rest: an incomplete UTF-8 sequence at the end becomes U+FFFD. */
  flush(): string;
}

export interface Tokenizer {
  /** 'bytes' (token = byte), 'hf-bpe' (tokenizer.json) or 'gguf-bpe' (GGUF-embedded vocabulary). */
  readonly kind: 'bytes' | 'hf-bpe' | 'gguf-bpe';
  /** One more than the largest id the tokenizer names (ids below it without text decode to nothing). */
  readonly vocabSize: number;
  /** End-of-text id, when the vocabulary has one. */
  readonly eos?: number;
  /** Beginning-of-text id, when the vocabulary has one. */
  readonly bos?: number;
  encode(text: string): Int32Array;
  /** The text of `ids`; invalid UTF-8 (a token sequence cut inside a character) becomes U+FFFD. */
  decode(ids: ArrayLike<number>): string;
  /** The exact bytes `ids` stand for. */
  decodeBytes(ids: ArrayLike<number>): Uint8Array;
  /** A decoder that turns ids into text as soon as complete characters exist. */
  streamDecoder(): StreamDecoder;
}

export const utf8Encoder = new TextEncoder();

/** Shared decoding for tokenizers whose ids are byte strings. */
export abstract class ByteStringTokenizer implements Tokenizer {
  abstract readonly kind: Tokenizer['kind'];
  abstract readonly vocabSize: number;

  abstract encode(text: string): Int32Array;

  /** The bytes of one id (empty for ids that name nothing). */
  protected abstract pieceBytes(id: number): Uint8Array;

  protected checkId(id: number): void {
    if (!Number.isInteger(id) || id < 0) throw new SsmcError('E_TOKENS', `token id ${id} is not a non-negative integer`);
  }

  decodeBytes(ids: ArrayLike<number>): Uint8Array {
    const parts: Uint8Array[] = [];
    let n = 0;
    for (let i = 0; i < ids.length; i++) {
      this.checkId(ids[i]);
      const p = this.pieceBytes(ids[i]);
      parts.push(p);
      n += p.length;
    }
    const out = new Uint8Array(n);
    let o = 0;
    for (const p of parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }

  decode(ids: ArrayLike<number>): string {
    return new TextDecoder('utf-8').decode(this.decodeBytes(ids));
  }

  streamDecoder(): StreamDecoder {
    const td = new TextDecoder('utf-8');
    return {
      push: (id) => {
        this.checkId(id);
        return td.decode(this.pieceBytes(id), { stream: true });
      },
      flush: () => td.decode(),
    };
  }
}

const BYTES = Array.from({ length: 256 }, (_, b) => Uint8Array.of(b));
const EMPTY = new Uint8Array(0);

/** Vocabulary 256, token = byte (UTF-8 of the text). */
export class ByteTokenizer extends ByteStringTokenizer {
  readonly kind = 'bytes' as const;
  readonly vocabSize = 256;
  encode(text: string): Int32Array {
    return Int32Array.from(utf8Encoder.encode(text));
  }
  protected pieceBytes(id: number): Uint8Array {
    return BYTES[id] ?? EMPTY;
  }
}
