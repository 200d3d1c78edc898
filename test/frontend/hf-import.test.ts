import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { fileSource } from '../../src/frontend/bytes.ts';
import { expectedTensors, parameterCount } from '../../src/frontend/checkpoint.ts';
import { loadHfFolder } from '../../src/frontend/hf-import.ts';
import type { RawTensor } from '../../src/frontend/raw-tensor.ts';
import { openSafetensors, writeSafetensors } from '../../src/frontend/safetensors.ts';
import { encodeBf16Array, encodeF16Array } from '../../src/util/half.ts';
import { SsmcError } from '../../src/errors.ts';
import { bytesOf, expectError, snapshot, SHAKESPEARE, tmpDir } from './_helpers.ts';

/** The fixture's tensors by HF name. */
function fixtureTensors(): Map<string, RawTensor> {
  const src = fileSource(join(SHAKESPEARE, 'model.safetensors'));
  try {
    const f = openSafetensors(src);
    return new Map([...f.entries.keys()].map((n) => [n, f.read(n)]));
  } finally {
    src.close();
  }
}

const fixtureConfig = () => JSON.parse(readFileSync(join(SHAKESPEARE, 'config.json'), 'utf8')) as Record<string, unknown>;

/** A folder with `config` and one model.safetensors holding `tensors`. */
function makeFolder(tensors: Map<string, RawTensor>, config: Record<string, unknown> = fixtureConfig()): string {
  const dir = tmpDir();
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
  writeFileSync(join(dir, 'model.safetensors'), writeSafetensors(tensors, { format: 'pt' }));
  return dir;
}

describe('loadHfFolder on the trained fixture', () => {
  let before: Map<string, string>;
  beforeAll(() => {
    before = snapshot(SHAKESPEARE);
  });

  it('reads config and every tensor with canonical names and shapes', () => {
    const ck = loadHfFolder(SHAKESPEARE);
    expect(ck.format).toBe('hf-transformers');
    expect(ck.source).toBe(SHAKESPEARE);
    expect(ck.tokenizer).toBeUndefined();
    expect(ck.config).toMatchObject({ dModel: 128, nLayer: 4, dInner: 256, dState: 16, dtRank: 8, dConv: 4, vocabSize: 256, tiedHead: true });
    expect(parameterCount(ck.config)).toBe(499_328);
    expect([...ck.tensors.keys()]).toEqual(expectedTensors(ck.config).map(([n]) => n));
    for (const [name, shape] of expectedTensors(ck.config)) {
      expect(ck.tensors.get(name)!.shape, name).toEqual(shape);
      expect(ck.tensors.get(name)!.dtype, name).toBe('f32');
    }
    expect(ck.tensors.get('embedding')!.shape).toEqual([256, 128]);
    expect(ck.tensors.get('l0.in_proj')!.shape).toEqual([512, 128]);
    expect(ck.tensors.get('l0.conv.weight')!.shape).toEqual([256, 4]);
    expect(ck.tensors.get('l3.x_proj')!.shape).toEqual([40, 256]);
    expect(ck.tensors.get('l3.A')!.shape).toEqual([256, 16]);
  });

  it('conv1d keeps its data; A = f32(-exp(A_log)) computed in double', () => {
    const ck = loadHfFolder(SHAKESPEARE);
    const raw = fixtureTensors();
    for (let i = 0; i < 4; i++) {
      const conv = raw.get(`backbone.layers.${i}.mixer.conv1d.weight`)!;
      expect(conv.shape).toEqual([256, 1, 4]);
      expect(ck.tensors.get(`l${i}.conv.weight`)!.data).toEqual(conv.data);
      const aLog = raw.get(`backbone.layers.${i}.mixer.A_log`)!.data as Float32Array;
      const a = ck.tensors.get(`l${i}.A`)!.data as Float32Array;
      for (let j = 0; j < aLog.length; j++) expect(a[j]).toBe(Math.fround(-Math.exp(aLog[j])));
    }
  });

  it('never modifies the input files', () => {
    loadHfFolder(SHAKESPEARE);
    expect(snapshot(SHAKESPEARE)).toEqual(before);
  });
});

describe('loadHfFolder conventions and dtypes', () => {
  it('mamba_ssm naming and config (backbone.embedding.weight, ssm_cfg)', () => {
    const t = fixtureTensors();
    const renamed = new Map([...t].map(([n, v]) => [n === 'backbone.embeddings.weight' ? 'backbone.embedding.weight' : n, v]));
    // mamba_ssm saves the tied head too: it must be ignored.
    renamed.set('lm_head.weight', t.get('backbone.embeddings.weight')!);
    const dir = makeFolder(renamed, { d_model: 128, n_layer: 4, vocab_size: 256, ssm_cfg: { dt_rank: 8 }, rms_norm: true, pad_vocab_size_multiple: 8 });
    const ck = loadHfFolder(dir);
    expect(ck.format).toBe('hf-mamba-ssm');
    expect(ck.tensors.has('lm_head')).toBe(false);
    expect(ck.tensors.get('embedding')!.data).toEqual(t.get('backbone.embeddings.weight')!.data);
  });

  it('an untied head is read as lm_head; a missing one is E_MISSING_TENSOR', () => {
    const t = fixtureTensors();
    const head = { dtype: 'f32' as const, shape: [256, 128], data: new Float32Array(256 * 128).fill(0.5) };
    const ck = loadHfFolder(makeFolder(new Map([...t, ['lm_head.weight', head]]), { ...fixtureConfig(), tie_word_embeddings: false }));
    expect(ck.config.tiedHead).toBe(false);
    expect(ck.tensors.get('lm_head')!.data).toEqual(head.data);
    expectError(() => loadHfFolder(makeFolder(t, { ...fixtureConfig(), tie_word_embeddings: false })), 'E_MISSING_TENSOR', 'lm_head.weight');
  });

  it('f16 and bf16 tensors keep their storage; A is always f32', () => {
    for (const [dtype, enc] of [['f16', encodeF16Array], ['bf16', encodeBf16Array]] as const) {
      const t = fixtureTensors();
      const conv = new Map([...t].map(([n, v]) => [n, { dtype, shape: v.shape, data: enc(v.data as Float32Array) } as RawTensor]));
      const ck = loadHfFolder(makeFolder(conv));
      expect(ck.tensors.get('embedding')!.dtype).toBe(dtype);
      expect(ck.tensors.get('embedding')!.data).toBeInstanceOf(Uint16Array);
      expect(ck.tensors.get('embedding')!.data).toEqual(conv.get('backbone.embeddings.weight')!.data);
      expect(ck.tensors.get('l1.A')!.dtype).toBe('f32');
      expect(ck.tensors.get('l1.A')!.data).toBeInstanceOf(Float32Array);
    }
  });

  it('reads tokenizer.json when present', () => {
    const dir = makeFolder(fixtureTensors());
    writeFileSync(join(dir, 'tokenizer.json'), '{}');
    expect(loadHfFolder(dir).tokenizer).toEqual({ kind: 'hf-json', path: join(dir, 'tokenizer.json') });
  });

  it('reads sharded folders through model.safetensors.index.json', () => {
    const t = fixtureTensors();
    const names = [...t.keys()];
    const dir = tmpDir();
    copyFileSync(join(SHAKESPEARE, 'config.json'), join(dir, 'config.json'));
    const shards = [names.slice(0, 20), names.slice(20)];
    const weightMap: Record<string, string> = {};
    shards.forEach((s, i) => {
      const file = `model-0000${i + 1}-of-00002.safetensors`;
      writeFileSync(join(dir, file), writeSafetensors(s.map((n) => [n, t.get(n)!] as [string, RawTensor])));
      for (const n of s) weightMap[n] = file;
    });
    writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }));
    const ck = loadHfFolder(dir);
    const ref = loadHfFolder(SHAKESPEARE);
    for (const [n, v] of ref.tensors) expect(Buffer.from(bytesOf(ck.tensors.get(n)!)).equals(Buffer.from(bytesOf(v))), n).toBe(true);
  });
});

describe('loadHfFolder rejects bad inputs with typed errors', () => {
  it('missing tensor: E_MISSING_TENSOR naming it', () => {
    const t = fixtureTensors();
    t.delete('backbone.layers.2.mixer.x_proj.weight');
    const err = expectError(() => loadHfFolder(makeFolder(t)), 'E_MISSING_TENSOR', 'backbone.layers.2.mixer.x_proj.weight');
    expect(err.location?.what).toBe('backbone.layers.2.mixer.x_proj.weight');
  });

  it('wrong shape: E_TENSOR_SHAPE naming tensor, expected and actual shape, file', () => {
    const t = fixtureTensors();
    t.set('backbone.layers.1.mixer.dt_proj.weight', { dtype: 'f32', shape: [256, 9], data: new Float32Array(256 * 9) });
    const dir = makeFolder(t);
    const err = expectError(() => loadHfFolder(dir), 'E_TENSOR_SHAPE', 'backbone.layers.1.mixer.dt_proj.weight', '[256, 9]', '[256, 8]');
    expect(err.location?.file).toBe(join(dir, 'model.safetensors'));
  });

  it('conv1d without its middle dimension is a shape error', () => {
    const t = fixtureTensors();
    const c = t.get('backbone.layers.0.mixer.conv1d.weight')!;
    t.set('backbone.layers.0.mixer.conv1d.weight', { ...c, shape: [256, 4] });
    expectError(() => loadHfFolder(makeFolder(t)), 'E_TENSOR_SHAPE', 'conv1d.weight', '[256, 1, 4]');
  });

  it('unexpected extra tensors are E_TENSOR_SHAPE', () => {
    const t = fixtureTensors();
    t.set('backbone.layers.9.norm.weight', { dtype: 'f32', shape: [128], data: new Float32Array(128) });
    expectError(() => loadHfFolder(makeFolder(t)), 'E_TENSOR_SHAPE', 'unexpected tensor backbone.layers.9.norm.weight');
    const u = fixtureTensors();
    u.set('backbone.layers.0.mixer.in_proj.bias', { dtype: 'f32', shape: [512], data: new Float32Array(512) });
    expectError(() => loadHfFolder(makeFolder(u)), 'E_TENSOR_SHAPE', 'in_proj.bias');
    const w = fixtureTensors();
    w.set('something.else', { dtype: 'f32', shape: [1], data: new Float32Array(1) });
    expectError(() => loadHfFolder(makeFolder(w)), 'E_TENSOR_SHAPE', 'something.else');
  });

  it('bad config values: E_CONFIG naming key and file', () => {
    const dir = makeFolder(fixtureTensors(), { ...fixtureConfig(), state_size: -16 });
    const err = expectError(() => loadHfFolder(dir), 'E_CONFIG', 'state_size');
    expect(err.location?.file).toBe(join(dir, 'config.json'));
    const dir2 = makeFolder(fixtureTensors());
    writeFileSync(join(dir2, 'config.json'), '{ not json');
    expectError(() => loadHfFolder(dir2), 'E_CONFIG', 'JSON');
  });

  it('a config that disagrees with the weights is a shape error naming the tensor', () => {
    expectError(() => loadHfFolder(makeFolder(fixtureTensors(), { ...fixtureConfig(), state_size: 8 })), 'E_TENSOR_SHAPE', 'x_proj.weight', '[24, 256]', '[40, 256]');
  });

  it('a folder with only pytorch_model.bin: E_UNSUPPORTED explaining the conversion', () => {
    const dir = tmpDir();
    copyFileSync(join(SHAKESPEARE, 'config.json'), join(dir, 'config.json'));
    writeFileSync(join(dir, 'pytorch_model.bin'), 'not really a pickle');
    expectError(() => loadHfFolder(dir), 'E_UNSUPPORTED', 'pickle', 'safetensors', 'pytorch_model.bin');
  });

  it('missing folder, missing weights, missing config: E_IO', () => {
    expectError(() => loadHfFolder(join(tmpDir(), 'nope')), 'E_IO');
    const dir = tmpDir();
    copyFileSync(join(SHAKESPEARE, 'config.json'), join(dir, 'config.json'));
    expectError(() => loadHfFolder(dir), 'E_IO', 'model.safetensors');
    const dir2 = tmpDir();
    copyFileSync(join(SHAKESPEARE, 'model.safetensors'), join(dir2, 'model.safetensors'));
    expectError(() => loadHfFolder(dir2), 'E_IO', 'config.json');
  });

  it('validates the shard index', () => {
    const t = fixtureTensors();
    const setup = (weightMap: unknown, files: Record<string, string[]>) => {
      const dir = tmpDir();
      copyFileSync(join(SHAKESPEARE, 'config.json'), join(dir, 'config.json'));
      for (const [file, names] of Object.entries(files)) {
        writeFileSync(join(dir, file), writeSafetensors(names.map((n) => [n, t.get(n)!] as [string, RawTensor])));
      }
      writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ weight_map: weightMap }));
      return dir;
    };
    const all = [...t.keys()];
    const map = Object.fromEntries(all.map((n) => [n, 'a.safetensors']));
    expectError(() => loadHfFolder(setup([], { 'a.safetensors': all })), 'E_HEADER', 'weight_map');
    expectError(() => loadHfFolder(setup({ ...map, 'backbone.norm_f.weight': '../evil.safetensors' }, { 'a.safetensors': all })), 'E_HEADER', 'evil');
    expectError(() => loadHfFolder(setup({ ...map, 'backbone.norm_f.weight': 'b.safetensors' }, { 'a.safetensors': all })), 'E_IO', 'b.safetensors');
    // listed in a shard that does not hold it
    const missing = all.filter((n) => n !== 'backbone.norm_f.weight');
    expectError(() => loadHfFolder(setup(map, { 'a.safetensors': missing })), 'E_MISSING_TENSOR', 'backbone.norm_f.weight');
    // present in a shard but not listed
    const { ['backbone.norm_f.weight']: _, ...unlisted } = map;
    expectError(() => loadHfFolder(setup(unlisted, { 'a.safetensors': all })), 'E_HEADER', 'backbone.norm_f.weight', 'not listed');
  });

  it('a truncated safetensors file is a container error, not a crash', () => {
    const dir = tmpDir();
    copyFileSync(join(SHAKESPEARE, 'config.json'), join(dir, 'config.json'));
    writeFileSync(join(dir, 'model.safetensors'), readFileSync(join(SHAKESPEARE, 'model.safetensors')).subarray(0, 100_000));
    let err: unknown;
    try {
      loadHfFolder(dir);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SsmcError);
    expect(['E_TRUNCATED', 'E_TOO_LARGE', 'E_OFFSETS']).toContain((err as SsmcError).code);
  });

  it('reading never modifies a folder, even when it fails', () => {
    const t = fixtureTensors();
    t.delete('backbone.norm_f.weight');
    const dir = makeFolder(t);
    mkdirSync(join(dir, 'sub'));
    const before = snapshot(dir);
    expectError(() => loadHfFolder(dir), 'E_MISSING_TENSOR');
    expect(snapshot(dir)).toEqual(before);
  });
});
