// One conversation with the native helper: a private temporary folder, arrays written
// to and read from it as raw little-endian files, and a synchronous call per command
// (passes are synchronous; spawning costs ~ms against the seconds of work per call).
// Arrays that are read many times (weights, cached calibration anchors) are written
// once per array object and reused, within a byte budget.
import { spawnSync } from 'node:child_process';
import { accessSync, constants, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SsmcError } from '../errors.ts';
import { nativeBinary } from './build.ts';

export type RawArray = Float64Array | Float32Array | Int32Array | Uint8Array;

interface CachedFile {
  readonly path: string;
  readonly bytes: number;
  evicted: boolean;
}

/** Bytes of reusable array files kept at most (SSMC_NATIVE_CACHE_MB, default 1536). */
function cacheBudget(): number {
  const mb = Number(process.env.SSMC_NATIVE_CACHE_MB ?? 1536);
  return (Number.isFinite(mb) && mb > 0 ? mb : 1536) * 2 ** 20;
}

/**
 * Where the session folder goes: $SSMC_NATIVE_TMP, else /dev/shm when writable (memory:
 * no disk writeback for the gigabytes of activations and weights a large model moves;
 * the reusable files are held to the cache budget), else the temporary folder.
 */
function baseDir(): string {
  if (process.env.SSMC_NATIVE_TMP) return process.env.SSMC_NATIVE_TMP;
  try {
    accessSync('/dev/shm', constants.W_OK);
    return '/dev/shm';
  } catch {
    return tmpdir();
  }
}

/** Calls and wall time per command (or tag) over the process, for benchmarks. */
export const nativeTimings = new Map<string, { calls: number; ms: number }>();
/** Largest peak RSS of any helper call so far (KiB). */
export const nativePeak = { rssKiB: 0 };

export class NativeSession {
  readonly exe: string;
  readonly dir: string;
  #seq = 0;
  readonly #files = new WeakMap<object, CachedFile>();
  readonly #order: CachedFile[] = [];
  #cached = 0;
  #closed = false;

  constructor() {
    this.exe = nativeBinary();
    this.dir = mkdtempSync(join(baseDir(), 'ssmc-native-'));
    liveDirs.add(this.dir);
    if (/\s/.test(this.dir)) throw new SsmcError('E_UNSUPPORTED', `native helper: the temporary folder ${this.dir} has a space in its path`);
  }

  /** A fresh file name in the session folder. */
  path(tag: string): string {
    return join(this.dir, `${++this.#seq}.${tag}`);
  }

  write(tag: string, a: RawArray): string {
    const p = this.path(tag);
    writeFileSync(p, new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
    return p;
  }

  /** The file of an array that will be read again unchanged (keyed by the array object). */
  writeCached(a: RawArray, key: object = a): string {
    const hit = this.#files.get(key);
    if (hit && !hit.evicted) {
      // Least recently used goes first: weights are read by every call, anchors by a few.
      const i = this.#order.indexOf(hit);
      if (i >= 0 && i !== this.#order.length - 1) {
        this.#order.splice(i, 1);
        this.#order.push(hit);
      }
      return hit.path;
    }
    return this.#remember(key, this.write('c', a), a.byteLength);
  }

  /** Reads an array the helper wrote and keeps its file as that array's cached copy. */
  adoptF32(p: string, count: number): Float32Array {
    const a = new Float32Array(this.#load(p, count * 4));
    this.#remember(a, p, a.byteLength);
    return a;
  }

  #remember(key: object, path: string, bytes: number): string {
    const entry: CachedFile = { path, bytes, evicted: false };
    this.#files.set(key, entry);
    this.#order.push(entry);
    this.#cached += entry.bytes;
    const budget = cacheBudget();
    while (this.#cached > budget && this.#order.length > 1) {
      const old = this.#order.shift()!;
      old.evicted = true;
      this.#cached -= old.bytes;
      try {
        unlinkSync(old.path);
      } catch {
        // already gone
      }
    }
    return path;
  }

  readF64(p: string, count: number): Float64Array {
    return new Float64Array(this.#read(p, count * 8));
  }

  readF32(p: string, count: number): Float32Array {
    return new Float32Array(this.#read(p, count * 4));
  }

  #read(p: string, bytes: number): ArrayBuffer {
    const out = this.#load(p, bytes);
    unlinkSync(p);
    return out;
  }

  /** The file's bytes as a whole ArrayBuffer (the read buffer itself when it is one: no copy). */
  #load(p: string, bytes: number): ArrayBuffer {
    const b = readFileSync(p);
    if (b.byteLength !== bytes) throw new SsmcError('E_INTERNAL', `native helper wrote ${b.byteLength} bytes to ${p}, expected ${bytes}`);
    if (b.byteOffset === 0 && b.buffer.byteLength === bytes && b.buffer instanceof ArrayBuffer) return b.buffer;
    const out = new ArrayBuffer(bytes);
    new Uint8Array(out).set(b);
    return out;
  }

  /**
   * Runs `ssmc-native cmd key=value...`. Exit 3 (a Hessian that is not positive
   * definite) becomes E_PASS with `what`; other failures E_INTERNAL with the helper's
   * message.
   */
  call(cmd: string, args: Readonly<Record<string, string | number>>, what = '', tag = cmd): void {
    if (this.#closed) throw new SsmcError('E_INTERNAL', 'native session is closed');
    const argv = [cmd, ...Object.entries(args).map(([k, v]) => `${k}=${v}`)];
    const t0 = performance.now();
    const r = spawnSync(this.exe, argv, { encoding: 'utf8', maxBuffer: 16 << 20 });
    const rec = nativeTimings.get(tag) ?? { calls: 0, ms: 0 };
    rec.calls++;
    rec.ms += performance.now() - t0;
    nativeTimings.set(tag, rec);
    if (r.error) throw new SsmcError('E_INTERNAL', `native helper: ${r.error.message}`);
    const rss = /^ssmc-native-maxrss (\d+)$/m.exec(r.stderr ?? '');
    if (rss) nativePeak.rssKiB = Math.max(nativePeak.rssKiB, Number(rss[1]));
    const stderr = (r.stderr ?? '').replace(/^ssmc-native-maxrss \d+\n?/m, '');
    if (r.status === 0) {
      if (process.env.SSMC_NATIVE_PROFILE && stderr) process.stderr.write(`[${tag}] ${stderr}`);
      return;
    }
    const msg = stderr.trim();
    if (r.status === 3) throw new SsmcError('E_PASS', `the damped Hessian of ${what || 'a layer'} is not positive definite (raise damp)`);
    if (r.status === 4) throw new NativeOpError(msg);
    throw new SsmcError('E_INTERNAL', `native helper '${cmd}' failed (exit ${r.status ?? r.signal}): ${msg}`);
  }

  /** Deletes the folder and everything in it. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    liveDirs.delete(this.dir);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

// Session folders still open when the process exits (an error path that skipped close(),
// or the CLI's exit on Ctrl-C) are removed then, so no arrays are left in /dev/shm.
const liveDirs = new Set<string>();
process.once('exit', () => {
  for (const d of liveDirs) rmSync(d, { recursive: true, force: true });
});

/** The graph executor met an op or shape it does not implement (the caller falls back). */
export class NativeOpError extends SsmcError {
  constructor(message: string) {
    super('E_UNSUPPORTED', `native helper: ${message}`);
    this.name = 'NativeOpError';
  }
}
