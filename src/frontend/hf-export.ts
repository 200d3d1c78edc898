// Writes a canonical checkpoint as a Hugging Face Mamba folder: config.json plus
// model.safetensors, or numbered shards plus model.safetensors.index.json when the
// weights exceed `shardBytes`. Tensors use transformers' names (or mamba_ssm's singular
// `backbone.embedding.weight`), conv1d weights get back their [e, 1, k] shape, and A is
// stored as A_log = log(-A) in f32. Everything is written into a temporary sibling folder
// that is renamed into place at the end, so a failure leaves no partial output; tensors are
// converted and written one at a time, so files larger than a Node buffer are fine.
import { copyFileSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { SsmcError } from '../errors.ts';
import { expectedTensors, type MambaConfig, type TokenizerSource } from './checkpoint.ts';
import { hfShape, hfTensorName, HF_CONFIG, HF_INDEX, HF_TOKENIZER, HF_WEIGHTS, toF32 } from './hf-import.ts';
import type { HfNaming } from './mamba-config.ts';
import { bytesPerElement, elementCount, type RawData, type StorageDType } from './raw-tensor.ts';
import { materialize, writeSafetensorsFile, type LazyTensor, type TensorInput } from './safetensors.ts';
import { encodeBf16Array, encodeF16Array } from '../util/half.ts';
import { tempSibling } from '../util/atomic-write.ts';

/** What the writers need from a checkpoint; tensors may be lazy (produced when written). */
export interface CheckpointLike {
  readonly config: MambaConfig;
  readonly tensors: ReadonlyMap<string, TensorInput>;
  readonly tokenizer?: TokenizerSource;
  readonly format?: string;
}

export interface HfWriteOptions {
  /** Storage dtype of every tensor except A_log (always f32). Default: keep each tensor's own. */
  readonly dtype?: StorageDType;
  /** Config keys and embedding name. Default: the checkpoint's own convention, else transformers. */
  readonly naming?: HfNaming;
  /** Largest shard in bytes (default 2 GiB); larger weights are split into shards plus an index. */
  readonly shardBytes?: number;
  /** Replace `dir` if it exists and is not empty (default: refuse). */
  readonly overwrite?: boolean;
  /** More files to put in the folder (e.g. `sparsity.json`), written before it appears. */
  readonly extraFiles?: Readonly<Record<string, string | Uint8Array>>;
}

export const DEFAULT_SHARD_BYTES = 2 * 1024 ** 3;

const TORCH_DTYPE: Record<StorageDType, string> = { f32: 'float32', f16: 'float16', bf16: 'bfloat16' };

/** Checks that the tensors are exactly those the config requires, with the right shapes. */
export function checkTensors(ck: CheckpointLike, where: string): void {
  const expected = expectedTensors(ck.config);
  const names = new Set(expected.map(([n]) => n));
  for (const name of ck.tensors.keys()) {
    if (!names.has(name)) throw new SsmcError('E_TENSOR_SHAPE', `unexpected tensor ${name} for this configuration`, { file: where, what: name });
  }
  for (const [name, shape] of expected) {
    const t = ck.tensors.get(name);
    if (!t) throw new SsmcError('E_MISSING_TENSOR', `tensor ${name} is missing`, { file: where, what: name });
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new SsmcError('E_TENSOR_SHAPE', `tensor ${name} has shape [${t.shape.join(', ')}], expected [${shape.join(', ')}]`, { file: where, what: name });
    }
  }
}

/** Converts tensor data between storage dtypes (a no-op when they agree). */
export function convertData(data: RawData, from: StorageDType, to: StorageDType): RawData {
  if (from === to) return data;
  const f = toF32({ dtype: from, data });
  if (to === 'f32') return f;
  return to === 'f16' ? encodeF16Array(f) : encodeBf16Array(f);
}

const F32 = new Float32Array(1);
const U32 = new Uint32Array(F32.buffer);

/** The neighbouring float32 value k steps away (k may be negative), or NaN past the ends. */
function f32Step(x: number, k: number): number {
  F32[0] = x;
  if (x === 0) {
    if (k === 0) return 0;
    U32[0] = Math.abs(k);
    return k > 0 ? F32[0] : -F32[0];
  }
  const bits = U32[0] & 0x7fffffff;
  const dir = x > 0 ? k : -k;
  const nb = bits + dir;
  if (nb < 0) return NaN; // crossed zero: not needed for our use
  U32[0] = (U32[0] & 0x80000000) | nb;
  return F32[0];
}

/**
 * A_log = log(-A) rounded to f32, nudged by up to three ulps when that makes the importer's
 * f32(-exp(A_log)) give back exactly A (always possible when A itself came from an f32 A_log).
 */
export function aLogFromA(a: Float32Array): Float32Array {
  const out = new Float32Array(a.length);
  for (let i = 0; i < a.length; i++) {
    const A = a[i];
    const x0 = Math.fround(Math.log(-A));
    let best = x0;
    if (Number.isFinite(x0) && Math.fround(-Math.exp(x0)) !== A) {
      for (const k of [1, -1, 2, -2, 3, -3]) {
        const x = f32Step(x0, k);
        if (Math.fround(-Math.exp(x)) === A) {
          best = x;
          break;
        }
      }
    }
    out[i] = best;
  }
  return out;
}

/** The lazy Hugging Face tensors (name, tensor) of a checkpoint, in canonical order. */
export function hfTensors(ck: CheckpointLike, naming: HfNaming, dtype?: StorageDType): Array<[string, LazyTensor]> {
  const out: Array<[string, LazyTensor]> = [];
  for (const [canonical] of expectedTensors(ck.config)) {
    const src = ck.tensors.get(canonical)!;
    const isA = canonical.endsWith('.A');
    const to: StorageDType = isA ? 'f32' : dtype ?? src.dtype;
    out.push([hfTensorName(canonical, naming), {
      dtype: to,
      shape: hfShape(canonical, src.shape),
      load: () => {
        const t = materialize(canonical, src);
        return isA ? aLogFromA(toF32(t)) : convertData(t.data, t.dtype, to);
      },
    }]);
  }
  return out;
}

/** config.json contents for a configuration in either convention. */
export function hfConfigJson(c: MambaConfig, naming: HfNaming, dtype: StorageDType = 'f32'): Record<string, unknown> {
  if (naming === 'hf-mamba-ssm') {
    if (!Number.isInteger(c.expand) || c.expand * c.dModel !== c.dInner) {
      throw new SsmcError('E_UNSUPPORTED', `mamba_ssm configs need d_inner = expand × d_model with an integer expand; d_inner is ${c.dInner}, d_model ${c.dModel}`, { what: 'expand' });
    }
    return {
      d_model: c.dModel,
      n_layer: c.nLayer,
      vocab_size: c.vocabSize,
      ssm_cfg: { d_state: c.dState, d_conv: c.dConv, expand: c.expand, dt_rank: c.dtRank, conv_bias: c.convBias, bias: c.projBias },
      rms_norm: true,
      residual_in_fp32: true,
      fused_add_norm: true,
      // The stored vocab is already padded; a multiple of 1 keeps an odd size as it is.
      pad_vocab_size_multiple: c.vocabSize % 8 === 0 ? 8 : 1,
      ...(c.normEps !== 1e-5 ? { norm_epsilon: c.normEps } : {}),
      // Old mamba_ssm releases do not know this key and only ever tie.
      ...(c.tiedHead ? {} : { tie_embeddings: false }),
    };
  }
  return {
    architectures: ['MambaForCausalLM'],
    model_type: 'mamba',
    hidden_size: c.dModel,
    intermediate_size: c.dInner,
    state_size: c.dState,
    num_hidden_layers: c.nLayer,
    conv_kernel: c.dConv,
    // transformers computes intermediate_size from an integer expand; omit a fractional one.
    ...(Number.isInteger(c.expand) && c.expand * c.dModel === c.dInner ? { expand: c.expand } : {}),
    time_step_rank: c.dtRank,
    use_bias: c.projBias,
    use_conv_bias: c.convBias,
    layer_norm_epsilon: c.normEps,
    vocab_size: c.vocabSize,
    tie_word_embeddings: c.tiedHead,
    residual_in_fp32: true,
    hidden_act: 'silu',
    initializer_range: 0.1,
    rescale_prenorm_residual: false,
    time_step_scale: 1.0,
    time_step_min: 0.001,
    time_step_max: 0.1,
    time_step_init_scheme: 'random',
    time_step_floor: 0.0001,
    use_cache: true,
    bos_token_id: 0,
    eos_token_id: 0,
    pad_token_id: 0,
    torch_dtype: TORCH_DTYPE[dtype],
  };
}

function defaultNaming(ck: CheckpointLike): HfNaming {
  return ck.format === 'hf-mamba-ssm' ? 'hf-mamba-ssm' : 'hf-transformers';
}

/** Writes `ck` as a Hugging Face folder at `dir` (see the file comment). */
export function writeHfFolder(ck: CheckpointLike, dir: string, opts: HfWriteOptions = {}): void {
  const naming = opts.naming ?? defaultNaming(ck);
  const shardBytes = opts.shardBytes ?? DEFAULT_SHARD_BYTES;
  if (!(Number.isSafeInteger(shardBytes) && shardBytes > 0)) {
    throw new SsmcError('E_ARG', `shardBytes must be a positive integer, got ${shardBytes}`, { what: 'shardBytes' });
  }
  checkTensors(ck, dir);
  const items = hfTensors(ck, naming, opts.dtype);
  const dominant = opts.dtype ?? ck.tensors.get('embedding')!.dtype;
  const configJson = hfConfigJson(ck.config, naming, dominant);
  checkTarget(dir, opts.overwrite ?? false);

  const tmp = tempSibling(dir);
  try {
    mkdirSync(tmp);
  } catch (e) {
    throw new SsmcError('E_IO', `cannot create a folder beside the output: ${(e as Error).message}`, { file: tmp });
  }
  try {
    writeFileSync(join(tmp, HF_CONFIG), JSON.stringify(configJson, null, 2) + '\n');
    const shards = planShards(items, shardBytes);
    const metadata = { format: 'pt' };
    if (shards.length === 1) {
      writeSafetensorsFile(join(tmp, HF_WEIGHTS), shards[0], metadata);
    } else {
      const weightMap: Record<string, string> = {};
      let total = 0;
      shards.forEach((shard, i) => {
        const file = `model-${String(i + 1).padStart(5, '0')}-of-${String(shards.length).padStart(5, '0')}.safetensors`;
        writeSafetensorsFile(join(tmp, file), shard, metadata);
        for (const [name, t] of shard) {
          weightMap[name] = file;
          total += elementCount(t.shape) * bytesPerElement(t.dtype);
        }
      });
      const sorted = Object.fromEntries(Object.keys(weightMap).sort().map((k) => [k, weightMap[k]]));
      writeFileSync(join(tmp, HF_INDEX), JSON.stringify({ metadata: { total_size: total }, weight_map: sorted }, null, 2) + '\n');
    }
    copyTokenizer(ck.tokenizer, tmp);
    for (const [name, data] of Object.entries(opts.extraFiles ?? {})) writeFileSync(join(tmp, name), data);
    moveIntoPlace(tmp, dir, opts.overwrite ?? false);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    if (e instanceof SsmcError) throw e;
    throw new SsmcError('E_IO', `cannot write: ${(e as Error).message}`, { file: dir }, { cause: e });
  }
}

/** Greedy split into shards of at most `limit` bytes (a larger tensor gets a shard of its own). */
function planShards(items: Array<[string, LazyTensor]>, limit: number): Array<Array<[string, LazyTensor]>> {
  const shards: Array<Array<[string, LazyTensor]>> = [[]];
  let size = 0;
  for (const item of items) {
    const n = elementCount(item[1].shape) * bytesPerElement(item[1].dtype);
    if (size > 0 && size + n > limit) {
      shards.push([]);
      size = 0;
    }
    shards[shards.length - 1].push(item);
    size += n;
  }
  return shards;
}

function copyTokenizer(tok: TokenizerSource | undefined, into: string): void {
  if (!tok || tok.kind !== 'hf-json' || !existsSync(tok.path)) return;
  copyFileSync(tok.path, join(into, HF_TOKENIZER));
  for (const extra of ['tokenizer_config.json', 'special_tokens_map.json']) {
    const p = join(dirname(tok.path), extra);
    if (existsSync(p)) copyFileSync(p, join(into, extra));
  }
}

function checkTarget(dir: string, overwrite: boolean): void {
  if (!existsSync(dir)) {
    if (!existsSync(dirname(dir))) throw new SsmcError('E_IO', 'the parent folder does not exist', { file: dir });
    return;
  }
  if (!statSync(dir).isDirectory()) throw new SsmcError('E_IO', 'exists and is not a folder', { file: dir });
  if (!overwrite && readdirSync(dir).length > 0) throw new SsmcError('E_IO', 'folder exists and is not empty (use overwrite)', { file: dir });
}

function moveIntoPlace(tmp: string, dir: string, overwrite: boolean): void {
  if (!existsSync(dir)) {
    renameSync(tmp, dir);
    return;
  }
  if (readdirSync(dir).length === 0) {
    rmdirSync(dir);
    renameSync(tmp, dir);
    return;
  }
  if (!overwrite) throw new SsmcError('E_IO', 'folder exists and is not empty (use overwrite)', { file: dir });
  const old = `${tmp}.old`;
  renameSync(dir, old);
  try {
    renameSync(tmp, dir);
  } catch (e) {
    renameSync(old, dir);
    throw e;
  }
  rmSync(old, { recursive: true, force: true });
}
