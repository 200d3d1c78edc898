// Mamba-1 configurations from the two Hugging Face conventions (transformers' MambaConfig
// and the original mamba_ssm release) and from llama.cpp GGUF metadata, validated into a
// MambaConfig. Every missing, ill-typed or absurd value is an E_CONFIG naming the key and
// the file; a model variant this compiler does not handle (LayerNorm instead of RMSNorm,
// Mamba-2 layers, attention or MLP layers, falcon-mamba's B/C/dt norms) is E_UNSUPPORTED.
import { SsmcError } from '../errors.ts';
import { elementCount } from './raw-tensor.ts';
import { expectedTensors, type MambaConfig } from './checkpoint.ts';
import type { GgufValue } from './gguf.ts';

export type HfNaming = 'hf-transformers' | 'hf-mamba-ssm';

/** No single tensor may hold more elements than this (2^40): anything larger is a typo. */
export const MAX_TENSOR_ELEMENTS = 2 ** 40;
/** Sanity bound on the layer count (the largest released Mamba-1 has 64). */
export const MAX_LAYERS = 100_000;

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function show(v: unknown): string {
  if (typeof v === 'bigint') return `${v}`;
  const s = JSON.stringify(v);
  if (s === undefined) return String(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

class Reader {
  constructor(private readonly obj: Json, private readonly file: string, private readonly prefix = '') {}

  fail(key: string, message: string): never {
    const what = this.prefix + key;
    throw new SsmcError('E_CONFIG', `config key ${what} ${message}`, { file: this.file, what });
  }

  has(key: string): boolean {
    return Object.hasOwn(this.obj, key) && this.obj[key] !== undefined;
  }

  raw(key: string): unknown {
    return this.obj[key];
  }

  /** A positive integer; `def` when the key is absent (required when `def` is undefined). */
  posInt(key: string, def?: number): number {
    if (!this.has(key)) {
      if (def === undefined) this.fail(key, 'is missing');
      return def;
    }
    const v = this.obj[key];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0) {
      this.fail(key, `must be a positive integer, got ${show(v)}`);
    }
    return v;
  }

  bool(key: string, def?: boolean): boolean {
    if (!this.has(key)) {
      if (def === undefined) this.fail(key, 'is missing');
      return def;
    }
    const v = this.obj[key];
    if (typeof v !== 'boolean') this.fail(key, `must be true or false, got ${show(v)}`);
    return v;
  }

  eps(key: string, def?: number): number {
    if (!this.has(key)) {
      if (def === undefined) this.fail(key, 'is missing');
      return def;
    }
    const v = this.obj[key];
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0 || v >= 1) {
      this.fail(key, `must be a number in (0, 1), got ${show(v)}`);
    }
    return v;
  }

  /** dt_rank / time_step_rank: a positive integer or "auto" (= ceil(d_model / 16)). */
  rank(key: string, dModel: number, def?: number | 'auto'): number {
    let v: unknown = this.obj[key];
    if (!this.has(key)) {
      if (def === undefined) this.fail(key, 'is missing');
      v = def;
    }
    if (v === 'auto') return Math.ceil(dModel / 16);
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0) {
      this.fail(key, `must be a positive integer or "auto", got ${show(v)}`);
    }
    return v;
  }
}

/**
 * Reads a Hugging Face `config.json` (already parsed) in either convention. The convention
 * is recognised by its keys: `d_model` (mamba_ssm) or `hidden_size` (transformers).
 */
export function configFromHfJson(json: unknown, file: string): { config: MambaConfig; naming: HfNaming } {
  if (!isObject(json)) throw new SsmcError('E_CONFIG', 'config must be a JSON object', { file });
  const modelType = json.model_type;
  if (modelType !== undefined && modelType !== 'mamba') {
    const hint = modelType === 'mamba2' ? ' (Mamba-2 is not supported)' : modelType === 'falcon_mamba' ? ' (falcon-mamba normalises B, C and dt, which Mamba-1 does not)' : '';
    throw new SsmcError('E_UNSUPPORTED', `model_type ${show(modelType)} is not a Mamba-1 model${hint}`, { file, what: 'model_type' });
  }
  if (Object.hasOwn(json, 'd_model')) return { config: fromMambaSsm(json, file), naming: 'hf-mamba-ssm' };
  if (Object.hasOwn(json, 'hidden_size')) return { config: fromTransformers(json, file), naming: 'hf-transformers' };
  throw new SsmcError('E_CONFIG', 'config key hidden_size (transformers) or d_model (mamba_ssm) is missing', { file, what: 'hidden_size' });
}

function fromTransformers(json: Json, file: string): MambaConfig {
  const r = new Reader(json, file);
  const dModel = r.posInt('hidden_size');
  const nLayer = r.posInt('num_hidden_layers');
  const vocabSize = r.posInt('vocab_size');
  const dState = r.posInt('state_size');
  const dConv = r.posInt('conv_kernel');
  let expand: number;
  let dInner: number;
  if (r.has('intermediate_size')) {
    dInner = r.posInt('intermediate_size');
    if (r.has('expand')) {
      expand = r.posInt('expand');
      if (expand * dModel !== dInner) {
        r.fail('intermediate_size', `(${dInner}) does not equal expand (${expand}) × hidden_size (${dModel})`);
      }
    } else {
      expand = dInner / dModel;
    }
  } else {
    if (!r.has('expand')) r.fail('intermediate_size', 'is missing (and so is expand)');
    expand = r.posInt('expand');
    dInner = expand * dModel;
  }
  const dtRank = r.rank('time_step_rank', dModel);
  const config: MambaConfig = {
    dModel, nLayer, vocabSize, dState, dConv, expand, dInner, dtRank,
    normEps: r.eps('layer_norm_epsilon', 1e-5),
    tiedHead: r.bool('tie_word_embeddings', true),
    convBias: r.bool('use_conv_bias', true),
    projBias: r.bool('use_bias', false),
  };
  checkSizes(config, file, {
    dModel: 'hidden_size', nLayer: 'num_hidden_layers', vocabSize: 'vocab_size', dState: 'state_size',
    dConv: 'conv_kernel', dInner: 'intermediate_size', dtRank: 'time_step_rank',
  });
  return config;
}

function fromMambaSsm(json: Json, file: string): MambaConfig {
  const r = new Reader(json, file);
  const dModel = r.posInt('d_model');
  const nLayer = r.posInt('n_layer');
  const rawVocab = r.posInt('vocab_size');
  const pad = r.posInt('pad_vocab_size_multiple', 8);
  const vocabSize = Math.ceil(rawVocab / pad) * pad;
  if (r.has('rms_norm') && r.bool('rms_norm') !== true) {
    throw new SsmcError('E_UNSUPPORTED', 'rms_norm: false (LayerNorm blocks) is not supported; only RMSNorm Mamba models are', { file, what: 'rms_norm' });
  }
  if (r.has('d_intermediate') && r.raw('d_intermediate') !== 0) {
    throw new SsmcError('E_UNSUPPORTED', `d_intermediate ${show(r.raw('d_intermediate'))}: MLP blocks are not supported`, { file, what: 'd_intermediate' });
  }
  const attn = r.raw('attn_layer_idx');
  if (attn !== undefined && !(Array.isArray(attn) && attn.length === 0)) {
    throw new SsmcError('E_UNSUPPORTED', `attn_layer_idx ${show(attn)}: attention layers are not supported`, { file, what: 'attn_layer_idx' });
  }
  let ssmCfg: Json = {};
  if (r.has('ssm_cfg')) {
    const v = r.raw('ssm_cfg');
    if (!isObject(v)) return r.fail('ssm_cfg', `must be an object, got ${show(v)}`);
    ssmCfg = v;
  }
  const s = new Reader(ssmCfg, file, 'ssm_cfg.');
  if (s.has('layer') && s.raw('layer') !== 'Mamba1') {
    throw new SsmcError('E_UNSUPPORTED', `ssm_cfg.layer ${show(s.raw('layer'))} is not supported; only Mamba1`, { file, what: 'ssm_cfg.layer' });
  }
  const dState = s.posInt('d_state', 16);
  const dConv = s.posInt('d_conv', 4);
  const expand = s.posInt('expand', 2);
  const dtRank = s.rank('dt_rank', dModel, 'auto');
  const config: MambaConfig = {
    dModel, nLayer, vocabSize, dState, dConv, expand, dInner: expand * dModel, dtRank,
    normEps: r.eps('norm_epsilon', 1e-5),
    tiedHead: r.bool('tie_embeddings', true),
    convBias: s.bool('conv_bias', true),
    projBias: s.bool('bias', false),
  };
  checkSizes(config, file, {
    dModel: 'd_model', nLayer: 'n_layer', vocabSize: 'vocab_size', dState: 'ssm_cfg.d_state',
    dConv: 'ssm_cfg.d_conv', dInner: 'ssm_cfg.expand', dtRank: 'ssm_cfg.dt_rank',
  });
  return config;
}

type SizeKey = 'dModel' | 'nLayer' | 'vocabSize' | 'dState' | 'dConv' | 'dInner' | 'dtRank';

/**
 * Rejects configurations whose tensors could not exist: more than MAX_LAYERS layers, or a
 * tensor of more than 2^40 elements. The message names the key most responsible.
 */
export function checkSizes(c: MambaConfig, file: string, keys: Record<SizeKey, string>): void {
  const fail = (key: SizeKey, msg: string): never => {
    throw new SsmcError('E_CONFIG', `config key ${keys[key]} ${msg}`, { file, what: keys[key] });
  };
  if (c.nLayer > MAX_LAYERS) fail('nLayer', `is ${c.nLayer}; more than ${MAX_LAYERS} layers is not a plausible model`);
  // Check one layer's tensors (all layers are alike) plus the global ones.
  const one: MambaConfig = { ...c, nLayer: 1 };
  for (const [name, shape] of expectedTensors(one)) {
    const n = elementCount(shape);
    if (!(n <= MAX_TENSOR_ELEMENTS)) {
      // Blame the largest dimension's key.
      const dims: Array<[SizeKey, number]> = [['vocabSize', c.vocabSize], ['dInner', c.dInner], ['dModel', c.dModel], ['dState', c.dState], ['dtRank', c.dtRank], ['dConv', c.dConv]];
      const culprit = dims.filter(([, v]) => shape.includes(v) || shape.includes(2 * v)).sort((a, b) => b[1] - a[1])[0]?.[0] ?? 'dModel';
      fail(culprit, `makes tensor ${name} [${shape.join(', ')}] hold ${n} elements (more than 2^40)`);
    }
  }
}

// ---------------------------------------------------------------------------------------
// GGUF

/** Facts a loader knows from the tensors rather than the metadata. */
export interface GgufFacts {
  /** Rows of token_embd (preferred over metadata). */
  vocabSize?: number;
  /** output.weight is absent. Defaults to true. */
  tiedHead?: boolean;
}

/**
 * The `mamba.*` keys llama.cpp reads (src/llama-model.cpp, LLM_ARCH_MAMBA): block_count,
 * embedding_length, ssm.conv_kernel, ssm.inner_size, ssm.state_size, ssm.time_step_rank,
 * attention.layer_norm_rms_epsilon; general.architecture must be "mamba".
 */
export function configFromGgufMetadata(meta: ReadonlyMap<string, GgufValue>, file: string, facts: GgufFacts = {}): MambaConfig {
  const fail = (key: string, msg: string): never => {
    throw new SsmcError('E_CONFIG', `metadata key ${key} ${msg}`, { file, what: key });
  };
  const arch = meta.get('general.architecture');
  if (!arch) fail('general.architecture', 'is missing');
  if (arch!.type !== 'string') fail('general.architecture', `must be a string, got ${arch!.type}`);
  if (arch!.value !== 'mamba') {
    const hint = arch!.value === 'mamba2' ? ' (Mamba-2 is not supported)' : '';
    throw new SsmcError('E_UNSUPPORTED', `general.architecture is ${show(arch!.value)}, expected "mamba"${hint}`, { file, what: 'general.architecture' });
  }
  const int = (key: string, def?: number): number => {
    const v = meta.get(key);
    if (!v) {
      if (def === undefined) fail(key, 'is missing');
      return def!;
    }
    let n: number;
    if (v.type === 'u64' || v.type === 'i64') n = Number(v.value);
    else if (v.type === 'u8' || v.type === 'i8' || v.type === 'u16' || v.type === 'i16' || v.type === 'u32' || v.type === 'i32') n = v.value;
    else return fail(key, `must be an integer, got ${v.type}`);
    if (!Number.isSafeInteger(n) || n <= 0) fail(key, `must be a positive integer, got ${String(v.value)}`);
    return n;
  };
  const dModel = int('mamba.embedding_length');
  const nLayer = int('mamba.block_count');
  const dConv = int('mamba.ssm.conv_kernel');
  const dInner = int('mamba.ssm.inner_size');
  const dState = int('mamba.ssm.state_size');
  const dtRank = int('mamba.ssm.time_step_rank');
  const epsV = meta.get('mamba.attention.layer_norm_rms_epsilon');
  if (!epsV) fail('mamba.attention.layer_norm_rms_epsilon', 'is missing');
  if (epsV!.type !== 'f32' && epsV!.type !== 'f64') fail('mamba.attention.layer_norm_rms_epsilon', `must be a float, got ${epsV!.type}`);
  // GGUF stores eps as f32; read it back as the shortest decimal that rounds to that
  // f32 (1e-5, not 9.99999974e-6), so a GGUF and the checkpoint it came from agree.
  const normEps = epsV!.type === 'f32' ? shortestF32Decimal(epsV!.value as number) : (epsV!.value as number);
  if (!(normEps > 0 && normEps < 1)) fail('mamba.attention.layer_norm_rms_epsilon', `must be in (0, 1), got ${normEps}`);
  const bcRms = meta.get('mamba.ssm.dt_b_c_rms');
  if (bcRms && bcRms.type === 'bool' && bcRms.value) {
    throw new SsmcError('E_UNSUPPORTED', 'mamba.ssm.dt_b_c_rms = true (falcon-mamba) is not supported', { file, what: 'mamba.ssm.dt_b_c_rms' });
  }

  let vocabSize = facts.vocabSize;
  if (vocabSize === undefined) {
    if (meta.has('mamba.vocab_size')) vocabSize = int('mamba.vocab_size');
    else {
      const toks = meta.get('tokenizer.ggml.tokens');
      if (toks && toks.type === 'array' && toks.value.length > 0) vocabSize = toks.value.length;
      else fail('mamba.vocab_size', 'is missing (and there is no tokenizer.ggml.tokens)');
    }
  }
  const config: MambaConfig = {
    dModel, nLayer, vocabSize: vocabSize!, dState, dConv, expand: dInner / dModel, dInner, dtRank, normEps,
    tiedHead: facts.tiedHead ?? true, convBias: true, projBias: false,
  };
  checkSizes(config, file, {
    dModel: 'mamba.embedding_length', nLayer: 'mamba.block_count', vocabSize: 'mamba.vocab_size', dState: 'mamba.ssm.state_size',
    dConv: 'mamba.ssm.conv_kernel', dInner: 'mamba.ssm.inner_size', dtRank: 'mamba.ssm.time_step_rank',
  });
  return config;
}

/** The shortest decimal whose f32 rounding is `v` (v itself when v is not an f32). */
export function shortestF32Decimal(v: number): number {
  if (Math.fround(v) !== v || !Number.isFinite(v)) return v;
  for (let p = 1; p <= 9; p++) {
    const d = Number(v.toPrecision(p));
    if (Math.fround(d) === v) return d;
  }
  return v;
}
