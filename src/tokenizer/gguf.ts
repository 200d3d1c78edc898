// The vocabulary embedded in a GGUF file (tokenizer.ggml.*). Model "gpt2" (byte-level BPE:
// tokens + merges) is supported: tokens of type CONTROL / USER_DEFINED are matched in the
// text whole (like added tokens) and decode to their text; UNUSED ones (padding) decode to
// nothing. The pre-tokenizer is GPT-2's regex (tokenizer.ggml.pre is not consulted). A
// byte-level vocabulary as byteLevelVocab writes it (no merges) is one token per byte.
import { SsmcError } from '../errors.ts';
import type { TokenizerSource } from '../frontend/checkpoint.ts';
import { TOKEN_TYPE } from '../frontend/gguf-mamba.ts';
import { BpeTokenizer, type AddedToken } from './bpe.ts';

export function ggufTokenizer(src: TokenizerSource & { kind: 'gguf' }, file = '<gguf>'): BpeTokenizer {
  if (src.model !== 'gpt2') {
    throw new SsmcError('E_UNSUPPORTED', `GGUF tokenizer model ${JSON.stringify(src.model)} is not supported (only "gpt2", byte-level BPE)`, { file, what: 'tokenizer.ggml.model' });
  }
  const merges: Array<[string, string]> = (src.merges ?? []).map((m, i) => {
    const parts = m.split(' ');
    if (parts.length !== 2) throw new SsmcError('E_TOKENS', `merge ${i} ${JSON.stringify(m)} must be two tokens separated by one space`, { file, what: 'tokenizer.ggml.merges' });
    return [parts[0], parts[1]];
  });
  const added: AddedToken[] = [];
  const silent = new Set<number>();
  const tokens: Array<string | undefined> = [...src.tokens];
  src.tokenTypes?.forEach((t, id) => {
    if (t === TOKEN_TYPE.CONTROL || t === TOKEN_TYPE.USER_DEFINED) {
      if (src.tokens[id] !== '') added.push({ id, content: src.tokens[id], special: t === TOKEN_TYPE.CONTROL });
    } else if (t === TOKEN_TYPE.UNUSED) {
      silent.add(id);
      tokens[id] = undefined; // never matched by encode
    }
  });
  const inRange = (id: number | undefined) => (id !== undefined && id >= 0 && id < src.tokens.length ? id : undefined);
  const bos = inRange(src.bos);
  const eos = inRange(src.eos);
  return new BpeTokenizer({
    kind: 'gguf-bpe',
    source: file,
    tokens,
    merges,
    added,
    silent,
    ...(bos !== undefined ? { bos } : {}),
    ...(eos !== undefined ? { eos } : {}),
  });
}
