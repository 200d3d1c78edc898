// llama.cpp GGUF files of architecture `mamba` (Mamba-1) <-> canonical checkpoints.
//
// What is written follows llama.cpp's own converter and loader; see docs/gguf-export.md
// for the exact functions this was checked against:
//   - convert_hf_to_gguf.py, class MambaModel: set_gguf_parameters (the mamba.* keys,
//     context_length 2^20, feed_forward_length 0, head_count 0, ssm.dt_b_c_rms false),
//     modify_tensors (A_log -> A = -exp(A_log), conv1d squeezed to ne [k, e], output.weight
//     dropped when equal to token_embd), ModelBase.prepare_tensors (dtype choice: 1-D tensors,
//     *_norm.weight, ssm_conv1d and every tensor not ending in ".weight" stay F32; with
//     --outtype f16 the other 2-D weights, token_embd included, become F16).
//   - src/models/mamba.cpp llama_model_mamba::load_arch_hparams / load_arch_tensors (and the
//     LLM_ARCH_MAMBA cases of older src/llama-model.cpp): required keys and tensor shapes,
//     ssm_conv1d.bias required, output optional (falls back to token_embd), d_inner = 2·d_model.
//   - src/llama-vocab.cpp llama_vocab::impl::load: tokenizer.ggml.model "gpt2" needs a
//     tokenizer.ggml.merges array (may be empty), tokens must be distinct
//     (GGML_ASSERT(id_to_token.size() == token_to_id.size())), tokenizer.ggml.pre "default"
//     is accepted, the token count is the vocabulary size checked against token_embd.
import { existsSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { SsmcError } from '../errors.ts';
import { fileSource } from './bytes.ts';
import { expectedTensors, type Checkpoint, type MambaConfig, type TokenizerSource } from './checkpoint.ts';
import { gguf, openGguf, writeGguf, writeGgufFile, type GgufValue } from './gguf.ts';
import { checkTensors, convertData, type CheckpointLike } from './hf-export.ts';
import { toF32 } from './hf-import.ts';
import { configFromGgufMetadata } from './mamba-config.ts';
import type { RawTensor, StorageDType } from './raw-tensor.ts';
import { materialize, type LazyTensor } from './safetensors.ts';

// ---------------------------------------------------------------------------------------
// Names

const LAYER: ReadonlyArray<[string, string]> = [
  ['norm', 'attn_norm.weight'],
  ['in_proj', 'ssm_in.weight'],
  ['conv.weight', 'ssm_conv1d.weight'],
  ['conv.bias', 'ssm_conv1d.bias'],
  ['x_proj', 'ssm_x.weight'],
  ['dt_proj', 'ssm_dt.weight'],
  ['dt_proj.bias', 'ssm_dt.bias'],
  ['A', 'ssm_a'],
  ['D', 'ssm_d'],
  ['out_proj', 'ssm_out.weight'],
];
const TO_GGUF = new Map(LAYER);
const FROM_GGUF = new Map(LAYER.map(([c, g]) => [g, c]));

/** The GGUF name of a canonical tensor, or undefined when llama.cpp has no such tensor. */
export function ggufTensorName(canonical: string): string | undefined {
  if (canonical === 'embedding') return 'token_embd.weight';
  if (canonical === 'lm_head') return 'output.weight';
  if (canonical === 'norm_f') return 'output_norm.weight';
  const m = /^l(\d+)\.(.+)$/.exec(canonical);
  const g = m && TO_GGUF.get(m[2]);
  return m && g ? `blk.${m[1]}.${g}` : undefined;
}

export function canonicalFromGguf(name: string): string | undefined {
  if (name === 'token_embd.weight') return 'embedding';
  if (name === 'output.weight') return 'lm_head';
  if (name === 'output_norm.weight') return 'norm_f';
  const m = /^blk\.(0|[1-9]\d*)\.(.+)$/.exec(name);
  const c = m && FROM_GGUF.get(m[2]);
  return m && c ? `l${m[1]}.${c}` : undefined;
}

// ---------------------------------------------------------------------------------------
// Loading

/** Loads a GGUF file of architecture `mamba`. */
export function loadGgufMamba(path: string): Checkpoint {
  const src = fileSource(path);
  try {
    const file = openGguf(src);
    const embd = file.tensors.get('token_embd.weight');
    const config = configFromGgufMetadata(file.metadata, path, {
      vocabSize: embd && embd.shape.length === 2 ? embd.shape[0] : undefined,
      tiedHead: !file.tensors.has('output.weight'),
    });
    const expected = new Map(expectedTensors(config));
    const found = new Map<string, string>();
    for (const name of file.tensors.keys()) {
      const c = canonicalFromGguf(name);
      if (c === undefined || !expected.has(c)) {
        throw new SsmcError('E_TENSOR_SHAPE', `unexpected tensor ${name}: not part of a llama.cpp Mamba-1 model with ${config.nLayer} layers`, { file: path, what: name });
      }
      found.set(c, name);
    }
    const tensors = new Map<string, RawTensor>();
    for (const [canonical, shape] of expected) {
      const name = found.get(canonical) ?? ggufTensorName(canonical)!;
      const info = file.tensors.get(name);
      if (!info) throw new SsmcError('E_MISSING_TENSOR', `tensor ${name} is missing`, { file: path, what: name });
      if (info.shape.length !== shape.length || info.shape.some((d, i) => d !== shape[i])) {
        throw new SsmcError(
          'E_TENSOR_SHAPE',
          `tensor ${name} has shape [${info.shape.join(', ')}] (row-major; GGUF ne [${[...info.shape].reverse().join(', ')}]), expected [${shape.join(', ')}]`,
          { file: path, offset: info.offset, what: name },
        );
      }
      const t = file.read(name);
      tensors.set(canonical, canonical.endsWith('.A') ? { dtype: 'f32', shape, data: toF32(t) } : { dtype: t.dtype, shape, data: t.data });
    }
    const tokenizer = tokenizerFromMetadata(file.metadata, path);
    return { format: 'gguf', config, tensors, source: path, ...(tokenizer ? { tokenizer } : {}) };
  } finally {
    src.close();
  }
}

function tokenizerFromMetadata(meta: ReadonlyMap<string, GgufValue>, file: string): TokenizerSource | undefined {
  const model = meta.get('tokenizer.ggml.model');
  if (!model) return undefined;
  const bad = (key: string, msg: string): never => {
    throw new SsmcError('E_TOKENS', `metadata key ${key} ${msg}`, { file, what: key });
  };
  if (model.type !== 'string') bad('tokenizer.ggml.model', `must be a string, got ${model.type}`);
  const toks = meta.get('tokenizer.ggml.tokens');
  if (!toks || toks.type !== 'array' || toks.itemType !== 'string') return bad('tokenizer.ggml.tokens', 'must be an array of strings');
  const strings = (key: string): readonly string[] | undefined => {
    const v = meta.get(key);
    if (!v) return undefined;
    if (v.type !== 'array' || v.itemType !== 'string') bad(key, 'must be an array of strings');
    return v.value as readonly string[];
  };
  const merges = strings('tokenizer.ggml.merges');
  let tokenTypes: number[] | undefined;
  const tt = meta.get('tokenizer.ggml.token_type');
  if (tt) {
    if (tt.type !== 'array' || !['i32', 'u32', 'i8', 'u8', 'i16', 'u16'].includes(tt.itemType)) bad('tokenizer.ggml.token_type', 'must be an array of integers');
    tokenTypes = [...(tt.value as readonly number[])];
    if (tokenTypes.length !== toks.value.length) bad('tokenizer.ggml.token_type', `has ${tokenTypes.length} entries for ${toks.value.length} tokens`);
  }
  const id = (key: string): number | undefined => {
    const v = meta.get(key);
    if (!v) return undefined;
    const n = v.type === 'u32' || v.type === 'i32' || v.type === 'u16' || v.type === 'i16' || v.type === 'u8' || v.type === 'i8' ? v.value
      : v.type === 'u64' || v.type === 'i64' ? Number(v.value) : bad(key, `must be an integer, got ${v.type}`);
    return n;
  };
  const bos = id('tokenizer.ggml.bos_token_id');
  const eos = id('tokenizer.ggml.eos_token_id');
  return {
    kind: 'gguf',
    model: model.value as string,
    tokens: toks.value as readonly string[],
    ...(merges ? { merges } : {}),
    ...(tokenTypes ? { tokenTypes } : {}),
    ...(bos !== undefined ? { bos } : {}),
    ...(eos !== undefined ? { eos } : {}),
  };
}

// ---------------------------------------------------------------------------------------
// Vocabularies

/** llama_token_type (llama.h / gguf-py TokenType). */
export const TOKEN_TYPE = { NORMAL: 1, UNKNOWN: 2, CONTROL: 3, USER_DEFINED: 4, UNUSED: 5, BYTE: 6 } as const;

/** GPT-2's bytes_to_unicode(): the printable character that stands for each byte in BPE vocabularies. */
export function gpt2ByteToUnicode(): string[] {
  const bs: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) bs.push(b);
  for (let b = 0xa1; b <= 0xac; b++) bs.push(b);
  for (let b = 0xae; b <= 0xff; b++) bs.push(b);
  const out = new Array<string>(256);
  for (const b of bs) out[b] = String.fromCodePoint(b);
  let n = 0;
  for (let b = 0; b < 256; b++) if (out[b] === undefined) out[b] = String.fromCodePoint(256 + n++);
  return out;
}

/**
 * A vocabulary llama.cpp accepts for a byte-level model of `vocabSize` rows: token i < 256 is
 * byte i (GPT-2 byte-to-unicode text, type NORMAL), later ids are distinct `[PAD{i}]` fillers of
 * type UNUSED, exactly as convert_hf_to_gguf.py pads a vocabulary. No merges, so text
 * tokenizes to one token per byte. BOS/EOS are byte 0 (NUL), which never occurs in text, so
 * llama.cpp's gpt2 default (id 11, the byte ",") cannot end generation early.
 */
export function byteLevelVocab(vocabSize: number): TokenizerSource & { kind: 'gguf' } {
  const bytes = gpt2ByteToUnicode();
  const tokens: string[] = [];
  const tokenTypes: number[] = [];
  for (let i = 0; i < vocabSize; i++) {
    tokens.push(i < 256 ? bytes[i] : `[PAD${i}]`);
    tokenTypes.push(i < 256 ? TOKEN_TYPE.NORMAL : TOKEN_TYPE.UNUSED);
  }
  return { kind: 'gguf', model: 'gpt2', tokens, merges: [], tokenTypes, bos: 0, eos: 0 };
}

/**
 * Converts a Hugging Face tokenizer.json with a BPE model (GPT-NeoX / GPT-2 style, as the
 * released Mamba models use) into GGUF vocabulary data, padded with `[PAD{i}]` to `vocabSize`
 * like convert_hf_to_gguf.py's get_vocab_base. Added special tokens become CONTROL.
 */
export function vocabFromHfTokenizer(path: string, vocabSize: number): TokenizerSource & { kind: 'gguf' } {
  const bad = (msg: string): never => {
    throw new SsmcError('E_TOKENS', msg, { file: path });
  };
  let json: any;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    return bad(`cannot read tokenizer.json: ${(e as Error).message}`);
  }
  const model = json?.model;
  if (!model || model.type !== 'BPE' || typeof model.vocab !== 'object' || model.vocab === null) {
    bad(`only BPE tokenizers can be converted (model.type is ${JSON.stringify(model?.type)})`);
  }
  const tokens = new Array<string | undefined>(vocabSize);
  const types = new Array<number>(vocabSize).fill(TOKEN_TYPE.UNUSED);
  const put = (text: unknown, id: unknown, type: number) => {
    if (typeof text !== 'string' || !Number.isSafeInteger(id) || (id as number) < 0) bad(`bad vocabulary entry ${JSON.stringify(text)} -> ${JSON.stringify(id)}`);
    if ((id as number) >= vocabSize) bad(`token ${JSON.stringify(text)} has id ${id}, but the embedding has only ${vocabSize} rows`);
    tokens[id as number] = text as string;
    types[id as number] = type;
  };
  for (const [text, id] of Object.entries(model.vocab)) put(text, id, TOKEN_TYPE.NORMAL);
  let eos: number | undefined;
  for (const t of Array.isArray(json.added_tokens) ? json.added_tokens : []) {
    put(t?.content, t?.id, t?.special ? TOKEN_TYPE.CONTROL : TOKEN_TYPE.USER_DEFINED);
    if (t.content === '<|endoftext|>') eos = t.id;
  }
  const seen = new Set<string>();
  const out: string[] = [];
  for (let i = 0; i < vocabSize; i++) {
    let text = tokens[i] ?? `[PAD${i}]`;
    if (seen.has(text)) {
      if (tokens[i] !== undefined) bad(`token ${JSON.stringify(text)} appears twice; llama.cpp needs distinct tokens`);
      text = `[PAD${i}]`;
    }
    seen.add(text);
    out.push(text);
  }
  const merges: string[] = [];
  for (const m of Array.isArray(model.merges) ? model.merges : []) {
    if (typeof m === 'string') merges.push(m);
    else if (Array.isArray(m) && m.length === 2 && m.every((x) => typeof x === 'string')) merges.push(`${m[0]} ${m[1]}`);
    else bad(`bad merge ${JSON.stringify(m)}`);
  }
  return { kind: 'gguf', model: 'gpt2', tokens: out, merges, tokenTypes: types, ...(eos !== undefined ? { bos: eos, eos } : {}) };
}

// ---------------------------------------------------------------------------------------
// Writing

export interface GgufMambaWriteOptions {
  /** 'f32': every tensor F32 (general.file_type 0). 'f16': 2-D weights F16, the rest F32 (file_type 1). */
  readonly fileType: 'f32' | 'f16';
  /** general.name (default "mamba"). */
  readonly name?: string;
  /**
   * The vocabulary to store. Default: the checkpoint's own (a GGUF vocabulary, or its
   * tokenizer.json converted), else a byte-level vocabulary ('bytes', see byteLevelVocab).
   */
  readonly tokenizer?: TokenizerSource | 'bytes';
}

/**
 * F16 or F32 for one tensor under --outtype f16, as ModelBase.prepare_tensors decides: 1-D
 * tensors, norms (`*_norm.weight`), ssm_conv1d and any tensor whose name does not end in
 * ".weight" (ssm_a, ssm_d, the biases) are F32; the remaining 2-D weights (token_embd, output,
 * ssm_in, ssm_x, ssm_dt, ssm_out) are F16.
 */
export function ggufTensorDtype(ggufName: string, rank: number, fileType: 'f32' | 'f16'): StorageDType {
  if (fileType === 'f32') return 'f32';
  if (rank <= 1 || ggufName.endsWith('_norm.weight') || /\.ssm_conv1d\./.test(ggufName) || !ggufName.endsWith('.weight')) return 'f32';
  return 'f16';
}

function resolveTokenizer(ck: CheckpointLike, opt: GgufMambaWriteOptions['tokenizer']): { tok: TokenizerSource & { kind: 'gguf' }; pre?: string } {
  const V = ck.config.vocabSize;
  const tok = opt ?? ck.tokenizer ?? 'bytes';
  // Byte-level: no pre-tokenizer regex is needed to split bytes, and "default" is accepted.
  if (tok === 'bytes') return { tok: byteLevelVocab(V), pre: 'default' };
  if (tok.kind === 'hf-json') {
    if (!existsSync(tok.path)) throw new SsmcError('E_TOKENS', 'tokenizer.json not found', { file: tok.path });
    // The pre-tokenizer name llama.cpp wants comes from a hash table in convert_hf_to_gguf.py
    // that is not reproduced here; without the key llama.cpp warns and uses 'default'.
    return { tok: vocabFromHfTokenizer(tok.path, V) };
  }
  if (tok.tokens.length !== V) {
    throw new SsmcError('E_TOKENS', `the vocabulary has ${tok.tokens.length} tokens but the embedding has ${V} rows; llama.cpp needs them equal`, { what: 'tokenizer.ggml.tokens' });
  }
  if (new Set(tok.tokens).size !== tok.tokens.length) {
    throw new SsmcError('E_TOKENS', 'the vocabulary has repeated tokens; llama.cpp needs distinct ones', { what: 'tokenizer.ggml.tokens' });
  }
  return { tok };
}

/** Metadata and (lazy) tensors of the GGUF file for `ck`, in the order written. */
export function ggufMambaContents(ck: CheckpointLike, opts: GgufMambaWriteOptions): {
  metadata: Array<[string, GgufValue]>;
  tensors: Array<[string, LazyTensor]>;
} {
  const c: MambaConfig = ck.config;
  checkTensors(ck, '<checkpoint>');
  if (opts.fileType !== 'f32' && opts.fileType !== 'f16') {
    throw new SsmcError('E_ARG', `fileType must be 'f32' or 'f16', got ${String(opts.fileType)}`, { what: 'fileType' });
  }
  if (c.projBias) throw new SsmcError('E_UNSUPPORTED', 'llama.cpp Mamba has no in_proj/out_proj biases (use_bias = true)', { what: 'use_bias' });
  if (c.dInner !== 2 * c.dModel) {
    throw new SsmcError('E_UNSUPPORTED', `llama.cpp supports only d_inner = 2 × d_model (expand 2); this model has d_inner ${c.dInner}, d_model ${c.dModel}`, { what: 'expand' });
  }
  const { tok, pre } = resolveTokenizer(ck, opts.tokenizer);

  const metadata: Array<[string, GgufValue]> = [
    ['general.architecture', gguf.str('mamba')],
    ['general.type', gguf.str('model')],
    ['general.name', gguf.str(opts.name ?? 'mamba')],
    ['mamba.context_length', gguf.u32(2 ** 20)],
    ['mamba.embedding_length', gguf.u32(c.dModel)],
    ['mamba.feed_forward_length', gguf.u32(0)],
    ['mamba.attention.head_count', gguf.u32(0)],
    ['mamba.block_count', gguf.u32(c.nLayer)],
    ['mamba.ssm.conv_kernel', gguf.u32(c.dConv)],
    ['mamba.ssm.inner_size', gguf.u32(c.dInner)],
    ['mamba.ssm.state_size', gguf.u32(c.dState)],
    ['mamba.ssm.time_step_rank', gguf.u32(c.dtRank)],
    ['mamba.attention.layer_norm_rms_epsilon', gguf.f32(c.normEps)],
    ['mamba.ssm.dt_b_c_rms', gguf.bool(false)],
    ['general.file_type', gguf.u32(opts.fileType === 'f32' ? 0 : 1)],
    ['general.quantization_version', gguf.u32(2)],
    ['tokenizer.ggml.model', gguf.str(tok.model)],
    ...(pre !== undefined ? [['tokenizer.ggml.pre', gguf.str(pre)] as [string, GgufValue]] : []),
    ['tokenizer.ggml.tokens', gguf.arr('string', tok.tokens)],
    ['tokenizer.ggml.token_type', gguf.arr('i32', tok.tokenTypes ?? tok.tokens.map(() => TOKEN_TYPE.NORMAL))],
  ];
  if (tok.merges || tok.model === 'gpt2') metadata.push(['tokenizer.ggml.merges', gguf.arr('string', tok.merges ?? [])]);
  if (tok.bos !== undefined) metadata.push(['tokenizer.ggml.bos_token_id', gguf.u32(tok.bos)]);
  if (tok.eos !== undefined) metadata.push(['tokenizer.ggml.eos_token_id', gguf.u32(tok.eos)]);
  if (tok.model === 'gpt2') metadata.push(['tokenizer.ggml.add_bos_token', gguf.bool(false)]);

  const tensors: Array<[string, LazyTensor]> = [];
  const add = (canonical: string, ggufName: string, source: () => RawTensor, shape: readonly number[]) => {
    const to = ggufTensorDtype(ggufName, shape.length, opts.fileType);
    tensors.push([ggufName, {
      dtype: to,
      shape,
      load: () => {
        const t = source();
        return canonical.endsWith('.A') ? convertData(toF32(t), 'f32', to) : convertData(t.data, t.dtype, to);
      },
    }]);
  };
  for (const [canonical, shape] of expectedTensors(c)) {
    const src = ck.tensors.get(canonical)!;
    add(canonical, ggufTensorName(canonical)!, () => materialize(canonical, src), shape);
    // llama.cpp requires ssm_conv1d.bias; a model without one gets zeros (the same function).
    if (canonical.endsWith('.conv.weight') && !c.convBias) {
      const name = ggufTensorName(canonical.replace(/weight$/, 'bias'))!;
      add(name, name, () => ({ dtype: 'f32', shape: [c.dInner], data: new Float32Array(c.dInner) }), [c.dInner]);
    }
  }
  return { metadata, tensors };
}

/** Writes `ck` as a llama.cpp GGUF file (streamed tensor by tensor, atomically). */
export function writeGgufMamba(ck: CheckpointLike, path: string, opts: GgufMambaWriteOptions): void {
  const { metadata, tensors } = ggufMambaContents(ck, opts);
  if (!existsSync(dirname(path))) throw new SsmcError('E_IO', 'the parent folder does not exist', { file: path });
  writeGgufFile(path, { metadata, tensors });
}

/** The same file in memory (small models, tests). */
export function ggufMambaBytes(ck: CheckpointLike, opts: GgufMambaWriteOptions): Uint8Array {
  return writeGguf(ggufMambaContents(ck, opts));
}
