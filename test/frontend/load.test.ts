import { copyFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeGgufMamba } from '../../src/frontend/gguf-mamba.ts';
import { detectFormat, loadCheckpoint } from '../../src/frontend/load.ts';
import { expectError, expectSameTensors, SHAKESPEARE, snapshot, tmpDir } from './_helpers.ts';

describe('detectFormat / loadCheckpoint', () => {
  it('a folder is a Hugging Face model', () => {
    expect(detectFormat(SHAKESPEARE)).toBe('hf-folder');
    const before = snapshot(SHAKESPEARE);
    const ck = loadCheckpoint(SHAKESPEARE);
    expect(ck.format).toBe('hf-transformers');
    expect(snapshot(SHAKESPEARE)).toEqual(before);
  });

  it('a .safetensors file is read with the config.json beside it (absolute or relative path)', () => {
    const file = join(SHAKESPEARE, 'model.safetensors');
    expect(detectFormat(file)).toBe('safetensors');
    const ref = loadCheckpoint(SHAKESPEARE);
    expectSameTensors(ref, loadCheckpoint(file));
    expectSameTensors(ref, loadCheckpoint(relative(process.cwd(), file)));
    // a differently named file works too
    const dir = tmpDir();
    copyFileSync(join(SHAKESPEARE, 'config.json'), join(dir, 'config.json'));
    copyFileSync(file, join(dir, 'weights.safetensors'));
    expectSameTensors(ref, loadCheckpoint(join(dir, 'weights.safetensors')));
  });

  it('a .gguf file, or any file with the GGUF magic, is llama.cpp', () => {
    const ref = loadCheckpoint(SHAKESPEARE);
    const dir = tmpDir();
    writeGgufMamba(ref, join(dir, 'm.gguf'), { fileType: 'f32' });
    copyFileSync(join(dir, 'm.gguf'), join(dir, 'model.bin.q'));
    expect(detectFormat(join(dir, 'm.gguf'))).toBe('gguf');
    expect(detectFormat(join(dir, 'model.bin.q'))).toBe('gguf');
    expectSameTensors(ref, loadCheckpoint(join(dir, 'm.gguf')));
    expect(loadCheckpoint(join(dir, 'model.bin.q')).format).toBe('gguf');
  });

  it('pickles and unknown files are E_UNSUPPORTED naming the path; a missing path is E_IO', () => {
    const dir = tmpDir();
    writeFileSync(join(dir, 'pytorch_model.bin'), 'x');
    writeFileSync(join(dir, 'notes.txt'), 'hello');
    expectError(() => loadCheckpoint(join(dir, 'pytorch_model.bin')), 'E_UNSUPPORTED', 'pickle', 'safetensors');
    const err = expectError(() => loadCheckpoint(join(dir, 'notes.txt')), 'E_UNSUPPORTED', 'notes.txt', '.gguf', 'safetensors', 'config.json');
    expect(err.location?.file).toBe(join(dir, 'notes.txt'));
    expectError(() => loadCheckpoint(join(dir, 'missing.gguf')), 'E_IO', 'missing.gguf');
    expectError(() => detectFormat(join(dir, 'nothing')), 'E_IO');
  });
});
