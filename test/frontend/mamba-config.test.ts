import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { gguf, type GgufValue } from '../../src/frontend/gguf.ts';
import { configFromGgufMetadata, configFromHfJson } from '../../src/frontend/mamba-config.ts';
import { expectError, FC_SEED, SHAKESPEARE } from './_helpers.ts';

const FILE = '/x/config.json';

const transformers130m = {
  model_type: 'mamba',
  hidden_size: 768,
  intermediate_size: 1536,
  state_size: 16,
  num_hidden_layers: 24,
  conv_kernel: 4,
  expand: 2,
  time_step_rank: 48,
  use_bias: false,
  use_conv_bias: true,
  layer_norm_epsilon: 1e-5,
  vocab_size: 50280,
  tie_word_embeddings: true,
};

describe('configFromHfJson: transformers convention', () => {
  it('reads the fixture config', () => {
    const json = JSON.parse(readFileSync(join(SHAKESPEARE, 'config.json'), 'utf8'));
    const { config, naming } = configFromHfJson(json, 'config.json');
    expect(naming).toBe('hf-transformers');
    expect(config).toEqual({
      dModel: 128, nLayer: 4, vocabSize: 256, dState: 16, dConv: 4, expand: 2, dInner: 256, dtRank: 8,
      normEps: 1e-5, tiedHead: true, convBias: true, projBias: false,
    });
  });

  it('time_step_rank "auto" is ceil(d/16); tie defaults to true', () => {
    const { tie_word_embeddings: _, ...rest } = transformers130m;
    const { config } = configFromHfJson({ ...rest, hidden_size: 100, intermediate_size: 200, time_step_rank: 'auto' }, FILE);
    expect(config.dtRank).toBe(7);
    expect(config.tiedHead).toBe(true);
  });

  it('intermediate_size may be derived from expand, and must agree with it', () => {
    const { intermediate_size: _, ...rest } = transformers130m;
    expect(configFromHfJson(rest, FILE).config.dInner).toBe(1536);
    expectError(() => configFromHfJson({ ...transformers130m, intermediate_size: 1000 }, FILE), 'E_CONFIG', 'intermediate_size', FILE);
  });

  const bad: Array<[string, unknown]> = [
    ['hidden_size', undefined],
    ['hidden_size', -1],
    ['hidden_size', 0],
    ['hidden_size', 1.5],
    ['hidden_size', '768'],
    ['num_hidden_layers', undefined],
    ['num_hidden_layers', null],
    ['state_size', 0],
    ['conv_kernel', true],
    ['vocab_size', 2 ** 40],
    ['time_step_rank', 'big'],
    ['layer_norm_epsilon', -1],
    ['layer_norm_epsilon', 'x'],
    ['use_bias', 'no'],
    ['tie_word_embeddings', 1],
    ['num_hidden_layers', 10 ** 7],
  ];
  it.each(bad)('%s = %j is E_CONFIG naming the key and file', (key, value) => {
    const json: Record<string, unknown> = { ...transformers130m };
    if (value === undefined) delete json[key];
    else json[key] = value;
    const err = expectError(() => configFromHfJson(json, FILE), 'E_CONFIG', key, FILE);
    expect(err.location?.what).toBe(key);
  });

  it('a huge hidden size is refused before any tensor could be allocated', () => {
    expectError(() => configFromHfJson({ ...transformers130m, hidden_size: 2 ** 30, intermediate_size: 2 ** 31 }, FILE), 'E_CONFIG', '2^40');
  });

  it('non-object input and unknown conventions are E_CONFIG', () => {
    expectError(() => configFromHfJson([1, 2], FILE), 'E_CONFIG', FILE);
    expectError(() => configFromHfJson({ n_embd: 3 }, FILE), 'E_CONFIG', 'hidden_size');
  });

  it('other model types are E_UNSUPPORTED', () => {
    expectError(() => configFromHfJson({ ...transformers130m, model_type: 'mamba2' }, FILE), 'E_UNSUPPORTED', 'model_type');
  });

  it('property: any valid transformers config reads back its own values', () => {
    fc.assert(
      fc.property(
        fc.record({
          d: fc.integer({ min: 1, max: 4096 }),
          n: fc.integer({ min: 1, max: 64 }),
          v: fc.integer({ min: 1, max: 60000 }),
          s: fc.integer({ min: 1, max: 64 }),
          k: fc.integer({ min: 1, max: 8 }),
          x: fc.integer({ min: 1, max: 4 }),
          r: fc.option(fc.integer({ min: 1, max: 256 })),
          tie: fc.boolean(),
        }),
        ({ d, n, v, s, k, x, r, tie }) => {
          const { config } = configFromHfJson({
            hidden_size: d, num_hidden_layers: n, vocab_size: v, state_size: s, conv_kernel: k, expand: x,
            intermediate_size: x * d, time_step_rank: r ?? 'auto', tie_word_embeddings: tie,
          }, FILE);
          expect(config).toMatchObject({ dModel: d, nLayer: n, vocabSize: v, dState: s, dConv: k, dInner: x * d, dtRank: r ?? Math.ceil(d / 16), tiedHead: tie });
        },
      ),
      { seed: FC_SEED, numRuns: 200 },
    );
  });

  it('property: a corrupted value of any numeric key is E_CONFIG naming that key', () => {
    const keys = ['hidden_size', 'num_hidden_layers', 'vocab_size', 'state_size', 'conv_kernel', 'intermediate_size'];
    fc.assert(
      fc.property(
        fc.constantFrom(...keys),
        fc.oneof(fc.integer({ max: 0 }), fc.double({ min: 0.1, max: 1e6, noInteger: true }), fc.string(), fc.constant(null), fc.boolean()),
        (key, value) => {
          const err = expectError(() => configFromHfJson({ ...transformers130m, [key]: value }, FILE), 'E_CONFIG', key);
          expect(err.location?.file).toBe(FILE);
        },
      ),
      { seed: FC_SEED, numRuns: 200 },
    );
  });
});

describe('configFromHfJson: mamba_ssm convention', () => {
  const mamba130m = {
    d_model: 768, n_layer: 24, vocab_size: 50277, ssm_cfg: {}, rms_norm: true, residual_in_fp32: true,
    fused_add_norm: true, pad_vocab_size_multiple: 8,
  };

  it('pads vocab 50277 to 50280 and applies the ssm_cfg defaults', () => {
    const { config, naming } = configFromHfJson(mamba130m, FILE);
    expect(naming).toBe('hf-mamba-ssm');
    expect(config).toEqual({
      dModel: 768, nLayer: 24, vocabSize: 50280, dState: 16, dConv: 4, expand: 2, dInner: 1536, dtRank: 48,
      normEps: 1e-5, tiedHead: true, convBias: true, projBias: false,
    });
  });

  it('pad_vocab_size_multiple defaults to 8; ssm_cfg values are used', () => {
    const { pad_vocab_size_multiple: _, ...rest } = mamba130m;
    const { config } = configFromHfJson({ ...rest, vocab_size: 100, ssm_cfg: { d_state: 8, d_conv: 3, expand: 3, dt_rank: 5, conv_bias: false, bias: true } }, FILE);
    expect(config).toMatchObject({ vocabSize: 104, dState: 8, dConv: 3, expand: 3, dInner: 2304, dtRank: 5, convBias: false, projBias: true });
  });

  it('rms_norm false, Mamba-2 layers, MLPs and attention are E_UNSUPPORTED', () => {
    expectError(() => configFromHfJson({ ...mamba130m, rms_norm: false }, FILE), 'E_UNSUPPORTED', 'rms_norm');
    expectError(() => configFromHfJson({ ...mamba130m, ssm_cfg: { layer: 'Mamba2' } }, FILE), 'E_UNSUPPORTED', 'ssm_cfg.layer');
    expectError(() => configFromHfJson({ ...mamba130m, d_intermediate: 128 }, FILE), 'E_UNSUPPORTED', 'd_intermediate');
    expectError(() => configFromHfJson({ ...mamba130m, attn_layer_idx: [3] }, FILE), 'E_UNSUPPORTED', 'attn_layer_idx');
  });

  it.each<[string, Record<string, unknown>]>([
    ['d_model', { d_model: 'x' }],
    ['n_layer', { n_layer: 0 }],
    ['vocab_size', { vocab_size: -5 }],
    ['pad_vocab_size_multiple', { pad_vocab_size_multiple: 0 }],
    ['ssm_cfg', { ssm_cfg: 3 }],
    ['ssm_cfg.d_state', { ssm_cfg: { d_state: 0 } }],
    ['ssm_cfg.dt_rank', { ssm_cfg: { dt_rank: 'x' } }],
    ['ssm_cfg.conv_bias', { ssm_cfg: { conv_bias: 'yes' } }],
  ])('bad %s is E_CONFIG naming it', (key, patch) => {
    expectError(() => configFromHfJson({ ...mamba130m, ...patch }, FILE), 'E_CONFIG', key, FILE);
  });
});

describe('configFromGgufMetadata', () => {
  const meta = (): Map<string, GgufValue> => new Map<string, GgufValue>([
    ['general.architecture', gguf.str('mamba')],
    ['mamba.context_length', gguf.u32(1 << 20)],
    ['mamba.embedding_length', gguf.u32(768)],
    ['mamba.block_count', gguf.u32(24)],
    ['mamba.ssm.conv_kernel', gguf.u32(4)],
    ['mamba.ssm.inner_size', gguf.u32(1536)],
    ['mamba.ssm.state_size', gguf.u32(16)],
    ['mamba.ssm.time_step_rank', gguf.u32(48)],
    ['mamba.attention.layer_norm_rms_epsilon', gguf.f32(1e-5)],
  ]);

  it('reads the mamba.* keys; vocab from the facts', () => {
    const c = configFromGgufMetadata(meta(), 'm.gguf', { vocabSize: 50280, tiedHead: false });
    expect(c).toMatchObject({ dModel: 768, nLayer: 24, dConv: 4, dInner: 1536, dState: 16, dtRank: 48, vocabSize: 50280, tiedHead: false, convBias: true, expand: 2 });
    expect(c.normEps).toBeCloseTo(1e-5, 12);
  });

  it('wrong architecture is E_UNSUPPORTED naming general.architecture', () => {
    const m = meta();
    m.set('general.architecture', gguf.str('llama'));
    const err = expectError(() => configFromGgufMetadata(m, 'm.gguf'), 'E_UNSUPPORTED', 'general.architecture', 'llama');
    expect(err.location?.file).toBe('m.gguf');
  });

  it('missing or ill-typed keys are E_CONFIG naming them', () => {
    for (const key of ['mamba.embedding_length', 'mamba.ssm.state_size', 'mamba.attention.layer_norm_rms_epsilon', 'general.architecture']) {
      const m = meta();
      m.delete(key);
      expectError(() => configFromGgufMetadata(m, 'm.gguf', { vocabSize: 10 }), 'E_CONFIG', key);
    }
    const m = meta();
    m.set('mamba.block_count', gguf.str('24'));
    expectError(() => configFromGgufMetadata(m, 'm.gguf', { vocabSize: 10 }), 'E_CONFIG', 'mamba.block_count');
    m.set('mamba.block_count', gguf.u32(0));
    expectError(() => configFromGgufMetadata(m, 'm.gguf', { vocabSize: 10 }), 'E_CONFIG', 'mamba.block_count');
  });

  it('falcon-mamba (dt_b_c_rms) is E_UNSUPPORTED', () => {
    const m = meta();
    m.set('mamba.ssm.dt_b_c_rms', gguf.bool(true));
    expectError(() => configFromGgufMetadata(m, 'm.gguf', { vocabSize: 10 }), 'E_UNSUPPORTED', 'dt_b_c_rms');
  });

  it('vocab falls back to mamba.vocab_size, then the token list', () => {
    const m = meta();
    m.set('tokenizer.ggml.tokens', gguf.arr('string', ['a', 'b', 'c']));
    expect(configFromGgufMetadata(m, 'm.gguf').vocabSize).toBe(3);
    m.set('mamba.vocab_size', gguf.u32(7));
    expect(configFromGgufMetadata(m, 'm.gguf').vocabSize).toBe(7);
  });
});

describe('shortestF32Decimal', () => {
  it('reads an f32 back as the shortest decimal that rounds to it', async () => {
    const { shortestF32Decimal } = await import('../../src/frontend/mamba-config.ts');
    for (const d of [1e-5, 1e-6, 0.1, 3e-7, 0.5]) expect(shortestF32Decimal(Math.fround(d))).toBe(d);
    expect(shortestF32Decimal(0.1 + 1e-12)).toBe(0.1 + 1e-12); // not an f32: unchanged
    const f = Math.fround(1.2345678e-5);
    expect(Math.fround(shortestF32Decimal(f))).toBe(f);
  });
});
