// Synthetic Mamba-1 checkpoints with the reference initialisation (mamba_ssm's
// Mamba.__init__ and MixerModel._init_weights), deterministic from a seed. Each tensor is
// drawn from its own PRNG stream (seed + tensor name), so any tensor can be generated
// alone, in any order, and the largest shapes can be written tensor by tensor.
//
//   embedding         N(0, 0.02)
//   norms             1
//   in_proj, x_proj   U(±1/sqrt(fan_in))       (PyTorch's default kaiming_uniform(a=√5))
//   conv1d weight     U(±1/sqrt(d_conv))       (depthwise: fan_in = d_conv)
//   conv1d bias       U(±1/sqrt(d_conv))
//   dt_proj weight    U(±dt_rank^-0.5)
//   dt_proj bias      softplus^-1(dt), dt log-uniform in [0.001, 0.1] (floored at 1e-4)
//   A                 f32(-exp(f32(log n))), n = 1..d_state: what an f32 A_log = log(n) gives
//                     (equal to -n within one ulp; exactly -n for n = 1..6, 8, 9, 10, 12, 16)
//   D                 1
//   out_proj          U(±1/sqrt(d_inner)) / sqrt(n_layer)
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { SsmcError } from '../errors.ts';
import { expectedTensors, type Checkpoint, type MambaConfig } from './checkpoint.ts';
import { writeGgufMamba } from './gguf-mamba.ts';
import { writeHfFolder } from './hf-export.ts';
import type { RawTensor } from './raw-tensor.ts';
import type { LazyTensor } from './safetensors.ts';
import { Prng } from '../util/prng.ts';
import { encodeF16Array } from '../util/half.ts';

export interface SynthShape {
  readonly dModel: number;
  readonly nLayer: number;
  readonly vocabSize: number;
}

/** The released Mamba-1 sizes (state-spaces/mamba-*), plus a tiny byte-level one for tests. */
export const SHAPES: Readonly<Record<string, SynthShape>> = {
  tiny: { dModel: 64, nLayer: 2, vocabSize: 256 },
  '130m': { dModel: 768, nLayer: 24, vocabSize: 50280 },
  '370m': { dModel: 1024, nLayer: 48, vocabSize: 50280 },
  '790m': { dModel: 1536, nLayer: 48, vocabSize: 50280 },
  '1.4b': { dModel: 2048, nLayer: 48, vocabSize: 50280 },
  '2.8b': { dModel: 2560, nLayer: 64, vocabSize: 50280 },
};

export interface SynthOptions {
  readonly seed?: number;
  /** Storage dtype (A stays f32 whatever this says). Default f32. */
  readonly dtype?: 'f32' | 'f16';
}

export const DEFAULT_SEED = 0;

export function synthConfig(shape: string): MambaConfig {
  const s = Object.hasOwn(SHAPES, shape) ? SHAPES[shape] : undefined;
  if (!s) throw new SsmcError('E_ARG', `unknown synthetic shape ${JSON.stringify(shape)}; known: ${Object.keys(SHAPES).join(', ')}`, { what: 'shape' });
  return {
    dModel: s.dModel,
    nLayer: s.nLayer,
    vocabSize: s.vocabSize,
    dState: 16,
    dConv: 4,
    expand: 2,
    dInner: 2 * s.dModel,
    dtRank: Math.ceil(s.dModel / 16),
    normEps: 1e-5,
    tiedHead: true,
    convBias: true,
    projBias: false,
  };
}

export interface SynthTensors {
  readonly config: MambaConfig;
  /** Canonical names in the stable order of expectedTensors. */
  readonly names: readonly string[];
  /** Generates one tensor (fresh arrays on each call). */
  generate(name: string): RawTensor;
}

const DT_MIN = 0.001;
const DT_MAX = 0.1;
const DT_FLOOR = 1e-4;

export function synthTensors(shape: string, opts: SynthOptions = {}): SynthTensors {
  const config = synthConfig(shape);
  const seed = opts.seed ?? DEFAULT_SEED;
  if (!Number.isSafeInteger(seed)) throw new SsmcError('E_ARG', `seed must be an integer, got ${seed}`, { what: 'seed' });
  const dtype = opts.dtype ?? 'f32';
  if (dtype !== 'f32' && dtype !== 'f16') throw new SsmcError('E_ARG', `dtype must be f32 or f16, got ${String(dtype)}`, { what: 'dtype' });
  const shapes = new Map(expectedTensors(config));
  const { dModel: d, dInner: e, dState: s, dConv: k, dtRank: r, nLayer } = config;

  const values = (name: string, n: number): Float32Array => {
    const out = new Float32Array(n);
    const rng = new Prng(seed, name);
    const kind = name.replace(/^l\d+\./, '');
    switch (kind) {
      case 'embedding':
        return rng.fillNormal(out, 0, 0.02);
      case 'norm':
      case 'norm_f':
      case 'D':
        return out.fill(1);
      case 'in_proj':
        return rng.fillUniform(out, -1 / Math.sqrt(d), 1 / Math.sqrt(d));
      case 'x_proj':
        return rng.fillUniform(out, -1 / Math.sqrt(e), 1 / Math.sqrt(e));
      case 'conv.weight':
      case 'conv.bias':
        return rng.fillUniform(out, -1 / Math.sqrt(k), 1 / Math.sqrt(k));
      case 'dt_proj':
        return rng.fillUniform(out, -(r ** -0.5), r ** -0.5);
      case 'dt_proj.bias': {
        const lo = Math.log(DT_MIN);
        const span = Math.log(DT_MAX) - lo;
        for (let i = 0; i < n; i++) {
          const dt = Math.max(Math.exp(lo + span * rng.float()), DT_FLOOR);
          out[i] = dt + Math.log(-Math.expm1(-dt)); // inverse softplus
        }
        return out;
      }
      case 'A':
        for (let c = 0; c < e; c++) {
          for (let j = 0; j < s; j++) out[c * s + j] = -Math.exp(Math.fround(Math.log(j + 1)));
        }
        return out;
      case 'out_proj': {
        const b = 1 / Math.sqrt(e);
        rng.fillUniform(out, -b, b);
        const scale = 1 / Math.sqrt(nLayer);
        for (let i = 0; i < n; i++) out[i] *= scale;
        return out;
      }
      default:
        throw new SsmcError('E_INTERNAL', `no initialiser for ${name}`, { what: name });
    }
  };

  return {
    config,
    names: [...shapes.keys()],
    generate(name) {
      const sh = shapes.get(name);
      if (!sh) throw new SsmcError('E_MISSING_TENSOR', `no tensor named ${name} in synthetic shape ${shape}`, { what: name });
      const n = sh.reduce((a, b) => a * b, 1);
      const f = values(name, n);
      if (dtype === 'f16' && !name.endsWith('.A')) return { dtype: 'f16', shape: sh, data: encodeF16Array(f) };
      return { dtype: 'f32', shape: sh, data: f };
    },
  };
}

/** A whole synthetic checkpoint in memory. */
export function synthCheckpoint(shape: string, opts: SynthOptions = {}): Checkpoint {
  const st = synthTensors(shape, opts);
  const tensors = new Map<string, RawTensor>();
  for (const name of st.names) tensors.set(name, st.generate(name));
  return { format: 'synthetic', config: st.config, tensors, source: `synthetic:${shape}:seed=${opts.seed ?? DEFAULT_SEED}` };
}

/** The same checkpoint with lazy tensors: each is generated only when a writer asks for it. */
export function synthLazyCheckpoint(shape: string, opts: SynthOptions = {}): { config: MambaConfig; tensors: Map<string, LazyTensor>; format: 'synthetic' } {
  const st = synthTensors(shape, opts);
  const dtype = opts.dtype ?? 'f32';
  const tensors = new Map<string, LazyTensor>();
  const shapes = new Map(expectedTensors(st.config));
  for (const name of st.names) {
    tensors.set(name, { dtype: name.endsWith('.A') ? 'f32' : dtype, shape: shapes.get(name)!, load: () => st.generate(name).data });
  }
  return { config: st.config, tensors, format: 'synthetic' };
}

export interface WriteSynthOptions extends SynthOptions {
  readonly format: 'hf' | 'gguf';
  /** HF: replace a non-empty output folder. */
  readonly overwrite?: boolean;
}

/**
 * Writes a synthetic model without holding it in memory: for 'hf', `out` is the folder to
 * create (config.json + safetensors, sharded past 2 GiB); for 'gguf', `out` is the .gguf file
 * (or, when `out` is an existing folder, `out/model.gguf`). Returns the path written.
 */
export function writeSynthModel(shape: string, out: string, opts: WriteSynthOptions): string {
  const ck = synthLazyCheckpoint(shape, opts);
  if (opts.format === 'hf') {
    writeHfFolder(ck, out, { naming: 'hf-transformers', overwrite: opts.overwrite });
    return out;
  }
  if (opts.format === 'gguf') {
    let file = out;
    try {
      if (statSync(out).isDirectory()) file = join(out, 'model.gguf');
    } catch {
      // does not exist yet: a file path
    }
    writeGgufMamba(ck, file, { fileType: opts.dtype ?? 'f32', name: `synthetic-mamba-${shape}` });
    return file;
  }
  throw new SsmcError('E_ARG', `format must be 'hf' or 'gguf', got ${String(opts.format)}`, { what: 'format' });
}
