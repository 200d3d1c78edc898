// Hugging Face Mamba-1 folders (transformers' MambaForCausalLM or the original mamba_ssm
// release, converted to safetensors) into a canonical Checkpoint.
//
// A folder holds config.json and either model.safetensors or model.safetensors.index.json
// plus the shards it names. Each shard is opened once. Every tensor is checked against
// the config: a missing one is E_MISSING_TENSOR, a wrong shape or an unexpected extra
// tensor E_TENSOR_SHAPE (naming the tensor, the expected and the actual shape, the file).
// Storage dtypes are kept (f16/bf16 stay raw 16-bit patterns), except A, which is always
// computed as f32(-exp(A_log)) in double precision.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, isAbsolute, join } from 'node:path';
import { SsmcError } from '../errors.ts';
import { fileSource, type ByteSource } from './bytes.ts';
import { expectedTensors, type Checkpoint, type MambaConfig, type TokenizerSource } from './checkpoint.ts';
import { configFromHfJson, type HfNaming } from './mamba-config.ts';
import type { RawData, RawTensor } from './raw-tensor.ts';
import { openSafetensors, type SafetensorsEntry, type SafetensorsFile } from './safetensors.ts';
import { decodeBf16Array, decodeF16Array } from '../util/half.ts';

export const HF_CONFIG = 'config.json';
export const HF_WEIGHTS = 'model.safetensors';
export const HF_INDEX = 'model.safetensors.index.json';
export const HF_TOKENIZER = 'tokenizer.json';

const PICKLE_RE = /\.(bin|pt|pth|ckpt|pkl)$/i;

export const PICKLE_HINT =
  'pickle checkpoints are not read (loading a pickle can run arbitrary code); convert to safetensors first, e.g. ' +
  `python -c "import torch; from safetensors.torch import save_file; sd = torch.load('pytorch_model.bin', map_location='cpu', weights_only=True); ` +
  `sd.pop('lm_head.weight', None); save_file({k: v.contiguous() for k, v in sd.items()}, 'model.safetensors', metadata={'format': 'pt'})" ` +
  '(drop lm_head.weight only when the head is tied), or load the model with transformers and call save_pretrained(dir, safe_serialization=True)';

// ---------------------------------------------------------------------------------------
// Name mapping, shared with the exporter.

const LAYER_SUFFIX: ReadonlyArray<[string, string]> = [
  ['norm', 'norm.weight'],
  ['in_proj', 'mixer.in_proj.weight'],
  ['in_proj.bias', 'mixer.in_proj.bias'],
  ['conv.weight', 'mixer.conv1d.weight'],
  ['conv.bias', 'mixer.conv1d.bias'],
  ['x_proj', 'mixer.x_proj.weight'],
  ['dt_proj', 'mixer.dt_proj.weight'],
  ['dt_proj.bias', 'mixer.dt_proj.bias'],
  ['A', 'mixer.A_log'],
  ['D', 'mixer.D'],
  ['out_proj', 'mixer.out_proj.weight'],
  ['out_proj.bias', 'mixer.out_proj.bias'],
];
const TO_HF_SUFFIX = new Map(LAYER_SUFFIX);
const FROM_HF_SUFFIX = new Map(LAYER_SUFFIX.map(([c, h]) => [h, c]));

export const HF_EMBEDDING: Readonly<Record<HfNaming, string>> = {
  'hf-transformers': 'backbone.embeddings.weight',
  'hf-mamba-ssm': 'backbone.embedding.weight',
};

/** The Hugging Face name of a canonical tensor (`l3.A` → `backbone.layers.3.mixer.A_log`). */
export function hfTensorName(canonical: string, naming: HfNaming): string {
  if (canonical === 'embedding') return HF_EMBEDDING[naming];
  if (canonical === 'norm_f') return 'backbone.norm_f.weight';
  if (canonical === 'lm_head') return 'lm_head.weight';
  const m = /^l(\d+)\.(.+)$/.exec(canonical);
  const suffix = m && TO_HF_SUFFIX.get(m[2]);
  if (!m || !suffix) throw new SsmcError('E_INTERNAL', `not a canonical tensor name: ${canonical}`, { what: canonical });
  return `backbone.layers.${m[1]}.${suffix}`;
}

/** The canonical name of a Hugging Face tensor (either convention), or undefined. */
export function canonicalFromHf(name: string): string | undefined {
  if (name === HF_EMBEDDING['hf-transformers'] || name === HF_EMBEDDING['hf-mamba-ssm']) return 'embedding';
  if (name === 'backbone.norm_f.weight') return 'norm_f';
  if (name === 'lm_head.weight') return 'lm_head';
  const m = /^backbone\.layers\.(0|[1-9]\d*)\.(.+)$/.exec(name);
  const c = m && FROM_HF_SUFFIX.get(m[2]);
  return m && c ? `l${m[1]}.${c}` : undefined;
}

/** The shape a canonical tensor has in a Hugging Face file (conv1d keeps its middle 1). */
export function hfShape(canonical: string, shape: readonly number[]): number[] {
  return canonical.endsWith('.conv.weight') ? [shape[0], 1, shape[1]] : [...shape];
}

// ---------------------------------------------------------------------------------------

export interface HfLoadOptions {
  /** Read exactly this safetensors file (absolute, or relative to the folder) instead of the folder's own weights. */
  readonly weightsFile?: string;
}

/** Loads a Hugging Face Mamba-1 folder (config.json + safetensors weights). */
export function loadHfFolder(dir: string, opts: HfLoadOptions = {}): Checkpoint {
  let st;
  try {
    st = statSync(dir);
  } catch (e) {
    throw new SsmcError('E_IO', `cannot read model folder: ${(e as Error).message}`, { file: dir });
  }
  if (!st.isDirectory()) throw new SsmcError('E_IO', 'not a folder', { file: dir });

  const shardNames = opts.weightsFile !== undefined ? undefined : findWeights(dir);
  const configPath = join(dir, HF_CONFIG);
  const { config, naming } = readHfConfig(configPath);

  const sources: ByteSource[] = [];
  try {
    // name -> where it is
    const located = new Map<string, { file: SafetensorsFile; path: string; entry: SafetensorsEntry }>();
    const open = (path: string): SafetensorsFile => {
      const src = fileSource(path);
      sources.push(src);
      const file = openSafetensors(src);
      for (const [name, entry] of file.entries) {
        const prev = located.get(name);
        if (prev) throw new SsmcError('E_HEADER', `tensor ${name} appears in both ${basename(prev.path)} and ${basename(path)}`, { file: path, what: name });
        located.set(name, { file, path, entry });
      }
      return file;
    };

    if (opts.weightsFile !== undefined) {
      const p = isAbsolute(opts.weightsFile) ? opts.weightsFile : join(dir, opts.weightsFile);
      open(p);
    } else if (shardNames!.index) {
      const indexPath = join(dir, HF_INDEX);
      const weightMap = readIndex(indexPath, dir);
      const byShard = new Map<string, string[]>();
      for (const [name, shard] of weightMap) {
        if (!byShard.has(shard)) byShard.set(shard, []);
        byShard.get(shard)!.push(name);
      }
      for (const [shard, names] of byShard) {
        const path = join(dir, shard);
        const file = open(path);
        for (const name of names) {
          if (!file.entries.has(name)) {
            throw new SsmcError('E_MISSING_TENSOR', `${HF_INDEX} puts tensor ${name} in ${shard}, which does not contain it`, { file: path, what: name });
          }
        }
        for (const name of file.entries.keys()) {
          if (weightMap.get(name) !== shard) {
            throw new SsmcError('E_HEADER', `tensor ${name} in ${shard} is not listed for that shard in ${HF_INDEX}`, { file: indexPath, what: name });
          }
        }
      }
    } else {
      open(join(dir, HF_WEIGHTS));
    }

    const tensors = mapTensors(config, configPath, located);
    const tokenizerPath = join(dir, HF_TOKENIZER);
    const tokenizer: TokenizerSource | undefined = existsSync(tokenizerPath) ? { kind: 'hf-json', path: tokenizerPath } : undefined;
    return { format: naming, config, tensors, source: dir, ...(tokenizer ? { tokenizer } : {}) };
  } finally {
    for (const s of sources) s.close();
  }
}

/** Reads and validates a config.json. */
export function readHfConfig(configPath: string): { config: MambaConfig; naming: HfNaming } {
  let text: string;
  try {
    text = readFileSync(configPath, 'utf8');
  } catch (e) {
    throw new SsmcError('E_IO', `cannot read ${HF_CONFIG}: ${(e as Error).message}`, { file: configPath });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new SsmcError('E_CONFIG', `not valid JSON: ${(e as Error).message}`, { file: configPath });
  }
  return configFromHfJson(json, configPath);
}

function findWeights(dir: string): { index: boolean } {
  if (existsSync(join(dir, HF_INDEX))) return { index: true };
  if (existsSync(join(dir, HF_WEIGHTS))) return { index: false };
  const files = readdirSync(dir);
  const pickles = files.filter((f) => PICKLE_RE.test(f));
  if (pickles.length > 0) {
    throw new SsmcError('E_UNSUPPORTED', `only ${pickles.slice(0, 3).join(', ')}${pickles.length > 3 ? ', ...' : ''} found: ${PICKLE_HINT}`, { file: dir });
  }
  const others = files.filter((f) => f.endsWith('.safetensors'));
  const hint = others.length > 0 ? ` (found ${others.slice(0, 3).join(', ')}: shards need ${HF_INDEX}; pass a single file explicitly)` : '';
  throw new SsmcError('E_IO', `no ${HF_WEIGHTS} or ${HF_INDEX} in the folder${hint}`, { file: dir });
}

/** Parses and validates model.safetensors.index.json: tensor name -> shard file name. */
function readIndex(indexPath: string, dir: string): Map<string, string> {
  const bad = (msg: string, what?: string): never => {
    throw new SsmcError('E_HEADER', msg, { file: indexPath, what });
  };
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(indexPath, 'utf8'));
  } catch (e) {
    return bad(`cannot read the shard index: ${(e as Error).message}`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return bad('the shard index must be a JSON object');
  const wm = (json as Record<string, unknown>).weight_map;
  if (typeof wm !== 'object' || wm === null || Array.isArray(wm)) return bad('weight_map must be an object mapping tensor names to shard files', 'weight_map');
  const out = new Map<string, string>();
  const checked = new Set<string>();
  for (const [name, shard] of Object.entries(wm as Record<string, unknown>)) {
    if (typeof shard !== 'string') bad(`weight_map entry for ${name} must be a file name, got ${JSON.stringify(shard)}`, name);
    const s = shard as string;
    if (!checked.has(s)) {
      if (s === '' || s.includes('/') || s.includes('\\') || s === '.' || s === '..' || !s.endsWith('.safetensors')) {
        bad(`weight_map entry for ${name} names ${JSON.stringify(s)}; shards must be .safetensors files in the same folder`, name);
      }
      if (!existsSync(join(dir, s))) {
        throw new SsmcError('E_IO', `shard ${s} named in ${HF_INDEX} does not exist`, { file: join(dir, s), what: name });
      }
      checked.add(s);
    }
    out.set(name, s);
  }
  if (out.size === 0) bad('weight_map is empty', 'weight_map');
  return out;
}

function describe(c: MambaConfig): string {
  return `d_model ${c.dModel}, d_inner ${c.dInner}, d_state ${c.dState}, dt_rank ${c.dtRank}, d_conv ${c.dConv}, vocab ${c.vocabSize}, ${c.nLayer} layers`;
}

function mapTensors(
  config: MambaConfig,
  configPath: string,
  located: Map<string, { file: SafetensorsFile; path: string; entry: SafetensorsEntry }>,
): Map<string, RawTensor> {
  const expected = new Map(expectedTensors(config));
  // canonical -> HF name actually present
  const found = new Map<string, string>();
  for (const [name, where] of located) {
    const canonical = canonicalFromHf(name);
    if (canonical === 'lm_head' && config.tiedHead) continue; // tied: the embedding is the head
    if (canonical === undefined || !expected.has(canonical)) {
      throw new SsmcError(
        'E_TENSOR_SHAPE',
        `unexpected tensor ${name}: not part of a Mamba-1 model with the configuration in ${configPath} (${describe(config)}, ` +
          `conv bias ${config.convBias}, projection bias ${config.projBias}, tied head ${config.tiedHead})`,
        { file: where.path, what: name },
      );
    }
    const prev = found.get(canonical);
    if (prev) throw new SsmcError('E_TENSOR_SHAPE', `tensors ${prev} and ${name} are the same weight; keep one`, { file: where.path, what: name });
    found.set(canonical, name);
  }

  const out = new Map<string, RawTensor>();
  for (const [canonical, shape] of expected) {
    const name = found.get(canonical);
    if (name === undefined) {
      const naming: HfNaming = located.has(HF_EMBEDDING['hf-mamba-ssm']) ? 'hf-mamba-ssm' : 'hf-transformers';
      const hfName = hfTensorName(canonical, naming);
      const where = [...new Set([...located.values()].map((w) => basename(w.path)))].join(', ');
      throw new SsmcError('E_MISSING_TENSOR', `tensor ${hfName} is missing from ${where} (required by ${configPath}: ${describe(config)})`, {
        file: [...located.values()][0]?.path ?? configPath,
        what: hfName,
      });
    }
    const { file, path, entry } = located.get(name)!;
    const want = hfShape(canonical, shape);
    if (entry.shape.length !== want.length || entry.shape.some((d, i) => d !== want[i])) {
      throw new SsmcError(
        'E_TENSOR_SHAPE',
        `tensor ${name} has shape [${entry.shape.join(', ')}], expected [${want.join(', ')}] from ${configPath} (${describe(config)})`,
        { file: path, what: name },
      );
    }
    const t = file.read(name);
    if (canonical.endsWith('.A')) {
      out.set(canonical, { dtype: 'f32', shape, data: aFromALog(toF32(t)) });
    } else {
      out.set(canonical, { dtype: t.dtype, shape, data: t.data });
    }
  }
  return out;
}

/** The values of a tensor as f32 (a view for f32, a decoded copy otherwise). */
export function toF32(t: { dtype: RawTensor['dtype']; data: RawData }): Float32Array {
  if (t.dtype === 'f32') return t.data as Float32Array;
  return t.dtype === 'f16' ? decodeF16Array(t.data as Uint16Array) : decodeBf16Array(t.data as Uint16Array);
}

/** A = f32(-exp(A_log)), computed in double precision. */
export function aFromALog(aLog: Float32Array): Float32Array {
  const out = new Float32Array(aLog.length);
  for (let i = 0; i < aLog.length; i++) out[i] = -Math.exp(aLog[i]);
  return out;
}
