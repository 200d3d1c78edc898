// The tokenizer of a checkpoint: its tokenizer.json or GGUF vocabulary, else bytes for a
// byte-level model (vocab 256), else a typed error naming what is missing.
import { SsmcError } from '../errors.ts';
import type { Checkpoint } from '../frontend/checkpoint.ts';
import { ggufTokenizer } from './gguf.ts';
import { loadHfTokenizer } from './hf.ts';
import { ByteTokenizer, type Tokenizer } from './tokenizer.ts';

export { BpeTokenizer, GPT2_SPLIT, type AddedToken, type BpeSpec } from './bpe.ts';
export { ggufTokenizer } from './gguf.ts';
export { hfTokenizerFromJson, loadHfTokenizer } from './hf.ts';
export { ByteStringTokenizer, ByteTokenizer, type StreamDecoder, type Tokenizer } from './tokenizer.ts';

export function tokenizerFor(ck: Pick<Checkpoint, 'config' | 'tokenizer' | 'source'>): Tokenizer {
  const V = ck.config.vocabSize;
  const src = ck.tokenizer;
  // A GGUF file whose model is "none"/"no" carries no vocabulary.
  const hasVocab = src !== undefined && !(src.kind === 'gguf' && (src.model === 'none' || src.model === 'no'));
  if (!hasVocab) {
    if (V === 256) return new ByteTokenizer();
    throw new SsmcError(
      'E_TOKENS',
      `the model has a vocabulary of ${V} tokens but no tokenizer: put the tokenizer.json it was trained with into the model folder, or use a GGUF file with tokenizer.ggml.tokens (only byte-level models, vocab 256, run without one)`,
      { file: ck.source, what: 'tokenizer.json' },
    );
  }
  const tok = src.kind === 'hf-json' ? loadHfTokenizer(src.path) : ggufTokenizer(src, ck.source);
  if (tok.vocabSize > V) {
    throw new SsmcError('E_TOKENS', `the tokenizer names ${tok.vocabSize} tokens but the model's embedding has only ${V} rows`, { file: src.kind === 'hf-json' ? src.path : ck.source });
  }
  return tok;
}
