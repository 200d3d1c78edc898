// Writing an emitted backend folder (text files + the packed weights) atomically: a
// sibling temporary folder, then a rename over any previous one.
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SsmcError } from '../errors.ts';
import { tempSibling } from '../util/atomic-write.ts';

export interface EmittedFolder {
  /** Text files of the folder, by file name. */
  readonly files: ReadonlyMap<string, string>;
  /** weights.bin. */
  readonly weights: { readonly bytes: Uint8Array };
}

export function writeEmittedFolder(mod: EmittedFolder, dir: string): void {
  const tmp = tempSibling(dir);
  mkdirSync(tmp, { recursive: true });
  try {
    for (const [name, text] of mod.files) writeFileSync(join(tmp, name), text);
    writeFileSync(join(tmp, 'weights.bin'), mod.weights.bytes);
    if (existsSync(dir)) {
      const old = tempSibling(dir);
      renameSync(dir, old);
      renameSync(tmp, dir);
      rmSync(old, { recursive: true, force: true });
    } else renameSync(tmp, dir);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    if (e instanceof SsmcError) throw e;
    throw new SsmcError('E_IO', `cannot write: ${(e as Error).message}`, { file: dir }, { cause: e });
  }
}
