// Writing an emitted backend folder (text files + the packed weights) atomically: a
// sibling temporary folder, then a rename over any previous one.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFolderAtomic } from '../util/atomic-write.ts';

export interface EmittedFolder {
  /** Text files of the folder, by file name. */
  readonly files: ReadonlyMap<string, string>;
  /** weights.bin. */
  readonly weights: { readonly bytes: Uint8Array };
}

export function writeEmittedFolder(mod: EmittedFolder, dir: string): void {
  writeFolderAtomic(dir, (tmp) => {
    mkdirSync(tmp);
    for (const [name, text] of mod.files) writeFileSync(join(tmp, name), text);
    writeFileSync(join(tmp, 'weights.bin'), mod.weights.bytes);
  });
}
