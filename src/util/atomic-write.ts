// Outputs are written to a temporary sibling and renamed into place, so a failed
// command never leaves a partial file behind.
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

export function tempSibling(path: string): string {
  return join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${Date.now().toString(36)}`);
}

export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  const tmp = tempSibling(path);
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}
