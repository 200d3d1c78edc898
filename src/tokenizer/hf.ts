// Hugging Face tokenizer.json with a byte-level BPE model (GPT-2 / GPT-NeoX, as the released
// Mamba checkpoints use). Supported: model BPE (vocab, merges as "a b" strings or [a, b]
// pairs, unk_token, ignore_merges), normalizer null / NFC / NFD / NFKC / NFKD (or a Sequence of
// them), pre_tokenizer ByteLevel (add_prefix_space, use_regex), decoder ByteLevel, and
// added_tokens (single_word, lstrip, rstrip). Anything else is E_UNSUPPORTED, named.
// Differences from `tokenizers`: every added token is matched after normalization; the
// post-processor is not applied (no special tokens are added around the text); decode keeps
// special tokens and renders an added token as its content.
import { existsSync, readFileSync } from 'node:fs';
import { SsmcError } from '../errors.ts';
import { BpeTokenizer, type AddedToken } from './bpe.ts';

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

const NORMAL_FORMS = new Set(['NFC', 'NFD', 'NFKC', 'NFKD']);
const EOS_NAMES = ['<|endoftext|>', '</s>', '<|end_of_text|>', '<eos>'];
const BOS_NAMES = ['<s>', '<|begin_of_text|>', '<bos>'];

export function loadHfTokenizer(path: string): BpeTokenizer {
  if (!existsSync(path)) throw new SsmcError('E_TOKENS', 'tokenizer.json not found', { file: path });
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new SsmcError('E_IO', `cannot read: ${(e as Error).message}`, { file: path });
  }
  let json: Json;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new SsmcError('E_TOKENS', `tokenizer.json is not valid JSON: ${(e as Error).message}`, { file: path });
  }
  return hfTokenizerFromJson(json, path);
}

export function hfTokenizerFromJson(json: Json, file = '<tokenizer.json>'): BpeTokenizer {
  const bad = (msg: string, what?: string): never => {
    throw new SsmcError('E_TOKENS', msg, { file, ...(what ? { what } : {}) });
  };
  const unsupported = (msg: string, what: string): never => {
    throw new SsmcError('E_UNSUPPORTED', msg, { file, what });
  };
  if (typeof json !== 'object' || json === null || Array.isArray(json)) bad('tokenizer.json must hold a JSON object');
  const model = json.model;
  if (typeof model !== 'object' || model === null) bad('has no "model"', 'model');
  if (model.type !== undefined && model.type !== 'BPE') unsupported(`only BPE tokenizers are supported; model.type is ${JSON.stringify(model.type)}`, 'model.type');
  if (typeof model.vocab !== 'object' || model.vocab === null || Array.isArray(model.vocab)) bad('model.vocab must be an object of token -> id', 'model.vocab');
  if (model.byte_fallback) unsupported('BPE with byte_fallback (SentencePiece style) is not supported', 'model.byte_fallback');
  if (model.continuing_subword_prefix) unsupported('BPE with continuing_subword_prefix is not supported', 'model.continuing_subword_prefix');
  if (model.end_of_word_suffix) unsupported('BPE with end_of_word_suffix is not supported', 'model.end_of_word_suffix');

  const tokens: Array<string | undefined> = [];
  const setToken = (t: unknown, id: unknown, what: string) => {
    if (typeof t !== 'string' || !Number.isSafeInteger(id) || (id as number) < 0 || (id as number) >= 1 << 24) {
      bad(`bad ${what} entry ${JSON.stringify(t)} -> ${JSON.stringify(id)}`, what);
    }
    const prev = tokens[id as number];
    if (prev !== undefined && prev !== t && what === 'model.vocab') bad(`id ${id} is given to both ${JSON.stringify(prev)} and ${JSON.stringify(t)}`, what);
    if (prev === undefined) tokens[id as number] = t as string;
  };
  for (const [t, id] of Object.entries(model.vocab)) setToken(t, id, 'model.vocab');

  const merges: Array<[string, string]> = [];
  if (model.merges !== undefined && !Array.isArray(model.merges)) bad('model.merges must be an array', 'model.merges');
  for (const m of model.merges ?? []) {
    if (typeof m === 'string') {
      const parts = m.split(' ');
      if (parts.length !== 2) bad(`merge ${JSON.stringify(m)} must be two tokens separated by one space`, 'model.merges');
      merges.push([parts[0], parts[1]]);
    } else if (Array.isArray(m) && m.length === 2 && typeof m[0] === 'string' && typeof m[1] === 'string') merges.push([m[0], m[1]]);
    else bad(`bad merge ${JSON.stringify(m)}`, 'model.merges');
  }

  const added: AddedToken[] = [];
  if (json.added_tokens !== undefined && json.added_tokens !== null && !Array.isArray(json.added_tokens)) bad('added_tokens must be an array', 'added_tokens');
  for (const a of json.added_tokens ?? []) {
    if (typeof a?.content !== 'string' || a.content === '' || !Number.isSafeInteger(a?.id) || a.id < 0 || a.id >= 1 << 24) {
      bad(`bad added token ${JSON.stringify(a)}`, 'added_tokens');
    }
    added.push({ id: a.id, content: a.content, special: Boolean(a.special), singleWord: Boolean(a.single_word), lstrip: Boolean(a.lstrip), rstrip: Boolean(a.rstrip) });
  }

  const normalize = normalizerOf(json.normalizer, unsupported);

  const pre = json.pre_tokenizer;
  if (!pre || pre.type !== 'ByteLevel') {
    unsupported(`only the ByteLevel pre-tokenizer is supported; pre_tokenizer is ${pre ? JSON.stringify(pre.type) : 'null'}`, 'pre_tokenizer');
  }
  const dec = json.decoder;
  if (!dec || dec.type !== 'ByteLevel') unsupported(`only the ByteLevel decoder is supported; decoder is ${dec ? JSON.stringify(dec.type) : 'null'}`, 'decoder');

  let unk: number | undefined;
  if (typeof model.unk_token === 'string') {
    unk = added.find((a) => a.content === model.unk_token)?.id ?? (model.vocab[model.unk_token] as number | undefined);
    if (unk === undefined) bad(`unk_token ${JSON.stringify(model.unk_token)} is not in the vocabulary`, 'model.unk_token');
  }
  const specialId = (names: string[]) => {
    for (const n of names) {
      const a = added.find((x) => x.special && x.content === n);
      if (a) return a.id;
    }
    return undefined;
  };
  const eos = specialId(EOS_NAMES);
  const bos = specialId(BOS_NAMES);
  return new BpeTokenizer({
    kind: 'hf-bpe',
    source: file,
    tokens,
    merges,
    added,
    addPrefixSpace: Boolean(pre.add_prefix_space),
    useRegex: pre.use_regex ?? true,
    ignoreMerges: Boolean(model.ignore_merges),
    ...(unk !== undefined ? { unk } : {}),
    ...(normalize ? { normalize } : {}),
    ...(eos !== undefined ? { eos } : {}),
    ...(bos !== undefined ? { bos } : {}),
  });
}

function normalizerOf(n: Json, unsupported: (msg: string, what: string) => never): ((s: string) => string) | undefined {
  if (n === null || n === undefined) return undefined;
  const forms: string[] = [];
  // Depth first with an explicit stack: nested Sequences thousands deep overflowed the call stack.
  const todo: Json[] = [n];
  while (todo.length > 0) {
    const x = todo.pop();
    if (x?.type === 'Sequence' && Array.isArray(x.normalizers)) for (let i = x.normalizers.length - 1; i >= 0; i--) todo.push(x.normalizers[i]);
    else if (NORMAL_FORMS.has(x?.type)) forms.push(x.type);
    else unsupported(`normalizer ${JSON.stringify(x?.type)} is not supported (only NFC, NFD, NFKC, NFKD)`, 'normalizer');
  }
  if (forms.length === 0) return undefined;
  return (s) => forms.reduce((acc, f) => acc.normalize(f), s);
}
