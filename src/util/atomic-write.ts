// Outputs are written to a temporary sibling and renamed into place, so a failed
// command never leaves a partial file behind and readers never see half a file.
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join, resolve } from 'node:path';
import { SsmcError } from '../errors.ts';

/** A fresh hidden name beside `path`, for a temporary file or folder. */
export function tempSibling(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
}

/**
 * Streams through `body` into a temporary file beside `path`, then renames it into
 * place (files larger than one buffer included); on any error the temporary is removed.
 */
export function writeStreamAtomic(path: string, body: (write: (bytes: Uint8Array) => void) => void): void {
  const tmp = tempSibling(path);
  let fd: number | undefined;
  let created = false;
  try {
    fd = openSync(tmp, 'wx');
    created = true;
    const out = fd;
    body((bytes) => {
      // writeSync may write less than asked (and refuses > 2 GiB at once): loop.
      for (let done = 0; done < bytes.length; ) {
        done += writeSync(out, bytes, done, Math.min(bytes.length - done, 1 << 30));
      }
    });
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(tmp, path);
  } catch (e) {
    if (fd !== undefined) try { closeSync(fd); } catch { /* already failing */ }
    if (created) try { unlinkSync(tmp); } catch { /* already failing */ }
    if (e instanceof SsmcError) throw e;
    throw new SsmcError('E_IO', `cannot write: ${(e as Error).message}`, { file: path }, { cause: e });
  }
}

export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
  writeStreamAtomic(path, (write) => write(bytes));
}

/**
 * Builds an output folder at a hidden temporary sibling of `dir` and renames it into
 * place only when `build` succeeds, replacing any previous folder; when anything fails
 * (emitting, the C compiler) nothing is left behind and an old `dir` is kept. Every
 * step of `build` must work relative to the folder it is given (the generated
 * Makefiles and compiler commands do: they run with the folder as cwd).
 */
export function writeFolderAtomic<T>(dir: string, build: (tmp: string) => T): T {
  // Missing parents are created, and removed again on failure.
  let created: string | undefined;
  for (let p = dirname(resolve(dir)); !existsSync(p); p = dirname(p)) created = p;
  const tmp = tempSibling(dir);
  try {
    if (created) mkdirSync(dirname(resolve(dir)), { recursive: true });
    const result = build(tmp);
    if (existsSync(dir)) {
      const old = tempSibling(dir);
      renameSync(dir, old);
      renameSync(tmp, dir);
      rmSync(old, { recursive: true, force: true });
    } else renameSync(tmp, dir);
    return result;
  } catch (e) {
    rmSync(created ?? tmp, { recursive: true, force: true });
    if (e instanceof SsmcError) throw e;
    throw new SsmcError('E_IO', `cannot write: ${(e as Error).message}`, { file: dir }, { cause: e });
  }
}
