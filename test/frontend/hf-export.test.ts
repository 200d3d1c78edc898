import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fileSource } from '../../src/frontend/bytes.ts';
import { aLogFromA, writeHfFolder } from '../../src/frontend/hf-export.ts';
import { loadHfFolder, toF32 } from '../../src/frontend/hf-import.ts';
import type { RawTensor } from '../../src/frontend/raw-tensor.ts';
import { openSafetensors, type LazyTensor } from '../../src/frontend/safetensors.ts';
import { synthCheckpoint } from '../../src/frontend/synth.ts';
import { encodeBf16Array, encodeF16Array } from '../../src/util/half.ts';
import { bytesOf, expectError, expectSameTensors, FC_SEED, randomCheckpoint, SHAKESPEARE, smallConfig, snapshot, tmpDir } from './_helpers.ts';

describe('writeHfFolder round trips', () => {
  it('fixture, f32, transformers naming: identical tensors, config and file layout', () => {
    const before = snapshot(SHAKESPEARE);
    const ck = loadHfFolder(SHAKESPEARE);
    const out = join(tmpDir(), 'model');
    writeHfFolder(ck, out);
    expect(readdirSync(out).sort()).toEqual(['config.json', 'model.safetensors']);
    const back = loadHfFolder(out);
    expect(back.format).toBe('hf-transformers');
    expect(back.config).toEqual(ck.config);
    expectSameTensors(ck, back);
    // A_log written back is exactly the fixture's A_log (it is a witness of A).
    const a = openSafetensors(fileSource(join(SHAKESPEARE, 'model.safetensors')));
    const b = openSafetensors(fileSource(join(out, 'model.safetensors')));
    for (const name of a.entries.keys()) {
      if (!name.endsWith('A_log')) continue;
      const x = a.read(name).data as Float32Array;
      const y = b.read(name).data as Float32Array;
      for (let i = 0; i < x.length; i++) expect(Math.fround(-Math.exp(y[i]))).toBe(Math.fround(-Math.exp(x[i])));
    }
    expect(b.metadata).toEqual({ format: 'pt' });
    expect(b.entries.get('backbone.layers.0.mixer.conv1d.weight')!.shape).toEqual([256, 1, 4]);
    const cfg = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
    expect(cfg).toMatchObject({
      model_type: 'mamba', architectures: ['MambaForCausalLM'], hidden_size: 128, intermediate_size: 256, state_size: 16,
      num_hidden_layers: 4, conv_kernel: 4, expand: 2, time_step_rank: 8, use_bias: false, use_conv_bias: true,
      layer_norm_epsilon: 1e-5, vocab_size: 256, tie_word_embeddings: true, torch_dtype: 'float32',
    });
    expect(snapshot(SHAKESPEARE)).toEqual(before);
  });

  it('mamba_ssm naming: singular embedding name and mamba_ssm config keys', () => {
    const ck = loadHfFolder(SHAKESPEARE);
    const out = join(tmpDir(), 'm');
    writeHfFolder(ck, out, { naming: 'hf-mamba-ssm' });
    const cfg = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
    expect(cfg).toMatchObject({ d_model: 128, n_layer: 4, vocab_size: 256, rms_norm: true, pad_vocab_size_multiple: 8, ssm_cfg: { d_state: 16, d_conv: 4, expand: 2, dt_rank: 8 } });
    const f = openSafetensors(fileSource(join(out, 'model.safetensors')));
    expect(f.entries.has('backbone.embedding.weight')).toBe(true);
    expect(f.entries.has('backbone.embeddings.weight')).toBe(false);
    const back = loadHfFolder(out);
    expect(back.format).toBe('hf-mamba-ssm');
    expect(back.config).toEqual(ck.config);
    expectSameTensors(ck, back);
  });

  it('f16 and bf16 export: everything but A_log converted, values as numpy would round them', () => {
    const ck = loadHfFolder(SHAKESPEARE);
    for (const [dtype, enc, torch] of [['f16', encodeF16Array, 'float16'], ['bf16', encodeBf16Array, 'bfloat16']] as const) {
      const out = join(tmpDir(), dtype);
      writeHfFolder(ck, out, { dtype });
      expect(JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')).torch_dtype).toBe(torch);
      const f = openSafetensors(fileSource(join(out, 'model.safetensors')));
      expect(f.entries.get('backbone.layers.0.mixer.A_log')!.dtype).toBe('f32');
      const back = loadHfFolder(out);
      for (const [name, t] of ck.tensors) {
        const u = back.tensors.get(name)!;
        if (name.endsWith('.A')) {
          expect(u.dtype).toBe('f32');
          expect(Buffer.from(bytesOf(u)).equals(Buffer.from(bytesOf(t)))).toBe(true);
        } else {
          expect(u.dtype, name).toBe(dtype);
          expect(Buffer.from(bytesOf(u)).equals(Buffer.from(bytesOf({ ...t, data: enc(t.data as Float32Array) })))).toBe(true);
        }
      }
      // and back to f32 from f16: exact (f16 -> f32 widening)
      const out32 = join(tmpDir(), `${dtype}-32`);
      writeHfFolder(back, out32, { dtype: 'f32' });
      const back32 = loadHfFolder(out32);
      for (const [name, t] of back.tensors) {
        const want = toF32(t);
        expect(Buffer.from(bytesOf(back32.tensors.get(name)!)).equals(Buffer.from(want.buffer, want.byteOffset, want.byteLength)), name).toBe(true);
      }
    }
  });

  it('shards past shardBytes, with a valid index, and reads back identically', () => {
    const ck = loadHfFolder(SHAKESPEARE);
    const out = join(tmpDir(), 'sharded');
    writeHfFolder(ck, out, { shardBytes: 300_000 });
    const files = readdirSync(out).sort();
    expect(files).toContain('model.safetensors.index.json');
    expect(files).not.toContain('model.safetensors');
    const shards = files.filter((f) => /^model-\d{5}-of-\d{5}\.safetensors$/.test(f));
    expect(shards.length).toBeGreaterThan(3);
    const index = JSON.parse(readFileSync(join(out, 'model.safetensors.index.json'), 'utf8'));
    expect(new Set(Object.values(index.weight_map))).toEqual(new Set(shards));
    expect(index.metadata.total_size).toBe(499_328 * 4);
    const back = loadHfFolder(out);
    expectSameTensors(ck, back);
  });

  it('property: random small models round-trip exactly (both namings, f32)', () => {
    fc.assert(
      fc.property(smallConfig, fc.integer({ min: 0, max: 1e9 }), fc.constantFrom('hf-transformers', 'hf-mamba-ssm') as fc.Arbitrary<'hf-transformers' | 'hf-mamba-ssm'>, fc.integer({ min: 64, max: 4096 }), (c, seed, naming, shardBytes) => {
        const ck = randomCheckpoint(c, seed);
        const out = join(tmpDir(), 'p');
        writeHfFolder(ck, out, { naming, shardBytes });
        const back = loadHfFolder(out);
        expect(back.config).toEqual(c);
        expectSameTensors(ck, back);
      }),
      { seed: FC_SEED, numRuns: 25 },
    );
  });

  it('synthetic A = f32(-exp(f32 log n)) survives A -> A_log -> A', () => {
    const ck = synthCheckpoint('tiny', { seed: 3 });
    const out = join(tmpDir(), 's');
    writeHfFolder(ck, out);
    expectSameTensors(ck, loadHfFolder(out));
  });

  it('aLogFromA picks an A_log whose f32(-exp) is exactly A', () => {
    const rng = fc.sample(fc.float({ min: -6, max: 6, noNaN: true }), { seed: FC_SEED, numRuns: 2000 });
    const a = new Float32Array(rng.map((x) => -Math.exp(Math.fround(x))));
    const l = aLogFromA(a);
    for (let i = 0; i < a.length; i++) expect(Math.fround(-Math.exp(l[i]))).toBe(a[i]);
  });
});

describe('writeHfFolder safety', () => {
  it('a failure while writing leaves no output and no temporary folder', () => {
    const ck = loadHfFolder(SHAKESPEARE);
    const tensors = new Map<string, RawTensor | LazyTensor>(ck.tensors);
    const nf = ck.tensors.get('norm_f')!;
    tensors.set('norm_f', { dtype: 'f32', shape: nf.shape, load: () => { throw new Error('disk on fire'); } });
    const parent = tmpDir();
    const out = join(parent, 'model');
    expect(() => writeHfFolder({ ...ck, tensors }, out)).toThrow(/disk on fire/);
    expect(readdirSync(parent)).toEqual([]);
  });

  it('refuses a non-empty folder unless overwrite; replaces it with overwrite', () => {
    const ck = loadHfFolder(SHAKESPEARE);
    const out = tmpDir();
    writeFileSync(join(out, 'keep.txt'), 'x');
    expectError(() => writeHfFolder(ck, out), 'E_IO', 'not empty');
    expect(readdirSync(out)).toEqual(['keep.txt']);
    writeHfFolder(ck, out, { overwrite: true });
    expect(readdirSync(out).sort()).toEqual(['config.json', 'model.safetensors']);
    const empty = join(tmpDir(), 'empty');
    mkdirSync(empty);
    writeHfFolder(ck, empty);
    expect(existsSync(join(empty, 'model.safetensors'))).toBe(true);
  });

  it('checks tensors against the config before writing anything', () => {
    const ck = loadHfFolder(SHAKESPEARE);
    const t = new Map(ck.tensors);
    t.delete('l2.D');
    const parent = tmpDir();
    expectError(() => writeHfFolder({ ...ck, tensors: t }, join(parent, 'x')), 'E_MISSING_TENSOR', 'l2.D');
    t.set('l2.D', { dtype: 'f32', shape: [3], data: new Float32Array(3) });
    expectError(() => writeHfFolder({ ...ck, tensors: t }, join(parent, 'x')), 'E_TENSOR_SHAPE', 'l2.D', '[256]');
    expect(readdirSync(parent)).toEqual([]);
  });

  it('copies tokenizer.json along', () => {
    const ck = loadHfFolder(SHAKESPEARE);
    const tokDir = tmpDir();
    writeFileSync(join(tokDir, 'tokenizer.json'), '{"model":{}}');
    const out = join(tmpDir(), 't');
    writeHfFolder({ ...ck, tokenizer: { kind: 'hf-json', path: join(tokDir, 'tokenizer.json') } }, out);
    expect(readFileSync(join(out, 'tokenizer.json'), 'utf8')).toBe('{"model":{}}');
    expect(loadHfFolder(out).tokenizer).toEqual({ kind: 'hf-json', path: join(out, 'tokenizer.json') });
  });
});
