// One entry point for every checkpoint format: a folder is a Hugging Face model, a .gguf
// file (or any file starting with the GGUF magic) is llama.cpp, a .safetensors file is read
// with the config.json beside it.
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { SsmcError } from '../errors.ts';
import type { Checkpoint } from './checkpoint.ts';
import { loadGgufMamba } from './gguf-mamba.ts';
import { loadHfFolder, PICKLE_HINT } from './hf-import.ts';

export type CheckpointFileFormat = 'hf-folder' | 'gguf' | 'safetensors';

export const ACCEPTED_FORMATS =
  'a Hugging Face folder (config.json + model.safetensors or model.safetensors.index.json), a .gguf file, or a .safetensors file with config.json beside it';

function startsWithGguf(path: string): boolean {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const b = Buffer.alloc(4);
    return readSync(fd, b, 0, 4, 0) === 4 && b.toString('latin1') === 'GGUF';
  } catch {
    return false;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** What kind of checkpoint `path` is (E_IO if it does not exist, E_UNSUPPORTED if none). */
export function detectFormat(path: string): CheckpointFileFormat {
  let st;
  try {
    st = statSync(path);
  } catch (e) {
    throw new SsmcError('E_IO', `cannot open: ${(e as Error).message}`, { file: path });
  }
  if (st.isDirectory()) return 'hf-folder';
  const name = basename(path).toLowerCase();
  if (name.endsWith('.gguf')) return 'gguf';
  if (name.endsWith('.safetensors')) return 'safetensors';
  if (st.isFile() && startsWithGguf(path)) return 'gguf';
  if (/\.(bin|pt|pth|ckpt|pkl)$/.test(name)) throw new SsmcError('E_UNSUPPORTED', PICKLE_HINT, { file: path });
  throw new SsmcError('E_UNSUPPORTED', `not a checkpoint this compiler reads; accepted: ${ACCEPTED_FORMATS}`, { file: path });
}

/** Loads any supported checkpoint into the canonical form. */
export function loadCheckpoint(path: string): Checkpoint {
  switch (detectFormat(path)) {
    case 'hf-folder':
      return loadHfFolder(path);
    case 'gguf':
      return loadGgufMamba(path);
    case 'safetensors':
      return loadHfFolder(dirname(path), { weightsFile: resolve(path) });
  }
}
