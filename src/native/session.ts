// One conversation with the native helper: a private temporary folder, arrays written
// to and read from it as raw little-endian files, and one helper process for the whole
// session (`ssmc-native serve`) that takes commands one line at a time over a named pipe
// and answers each on another. Calls are synchronous (passes are): Node blocks in a read
// of the answer pipe. The helper keeps the files of arrays that are read many times
// (weights, calibration anchors, Hessians, layer inputs: `*.keep`, written once per
// array object, within a byte budget) mapped between commands, so they are neither
// re-read nor faulted in again per command; a spawn per command (one fork of a
// gigabyte-sized Node) is gone too.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { accessSync, closeSync, constants, mkdtempSync, openSync, readFileSync, readSync, rmSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
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

/** Calls, wall time and the helper's CPU time (user + system, all threads) per command (or tag) over the process, for benchmarks. */
export const nativeTimings = new Map<string, { calls: number; ms: number; cpuMs: number }>();
/**
 * Largest peak RSS of a helper process so far (KiB; it counts the session files the helper
 * maps, which are the same pages as in /dev/shm), and the helpers' CPU time in all.
 */
export const nativePeak = { rssKiB: 0, userMs: 0, sysMs: 0 };

/** How long a starting helper may take to open its pipes (a broken binary must not hang the pass). */
const START_TIMEOUT_MS = 30_000;
/** Paths per `drop` line (the helper reads at most 63 words a line). */
const DROPS_PER_LINE = 48;

interface Helper {
  readonly child: ChildProcess;
  readonly cmd: number;
  readonly reply: number;
  /** CPU time the helper had reported by its last answer (ms). */
  userMs: number;
  sysMs: number;
}

export class NativeSession {
  readonly exe: string;
  readonly dir: string;
  #seq = 0;
  readonly #files = new WeakMap<object, CachedFile>();
  readonly #order: CachedFile[] = [];
  #cached = 0;
  #closed = false;
  #helper: Helper | undefined;
  /** Evicted kept files the helper may still have mapped (sent before the next command). */
  #drops: string[] = [];
  /** Files written for the next command only (removed after it). */
  #transient: string[] = [];
  #pending = '';

  constructor() {
    this.exe = nativeBinary();
    this.dir = mkdtempSync(join(baseDir(), 'ssmc-native-'));
    liveSessions.add(this);
    if (/\s/.test(this.dir)) throw new SsmcError('E_UNSUPPORTED', `native helper: the temporary folder ${this.dir} has a space in its path`);
  }

  /** Process id of the running helper (undefined before the first call and after an error). */
  get helperPid(): number | undefined {
    return this.#helper?.child.pid;
  }

  /** A fresh file name in the session folder. */
  path(tag: string): string {
    return join(this.dir, `${++this.#seq}.${tag}`);
  }

  /** A fresh name for a helper output that will be adopted (adoptF32) and read again as input. */
  keepPath(): string {
    return this.path('keep');
  }

  /** Writes an array for the next call only (the file is removed after that call). */
  write(tag: string, a: RawArray): string {
    const p = this.path(tag);
    writeFileSync(p, new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
    this.#transient.push(p);
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
    const p = this.keepPath();
    writeFileSync(p, new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
    return this.#remember(key, p, a.byteLength);
  }

  /** Reads an array the helper wrote (to a keepPath) and keeps its file as that array's cached copy. */
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
      this.#drops.push(old.path);
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
   * Runs `cmd key=value...` in the helper. Error 3 (a Hessian that is not positive
   * definite) becomes E_PASS with `what`; 4 NativeOpError; other failures E_INTERNAL with
   * the helper's message. After an error the helper has exited; the next call starts one.
   */
  call(cmd: string, args: Readonly<Record<string, string | number>>, what = '', tag = cmd): void {
    if (this.#closed) throw new SsmcError('E_INTERNAL', 'native session is closed');
    const words = [cmd, ...Object.entries(args).map(([k, v]) => `${k}=${v}`)];
    if (words.some((w) => /\s/.test(w))) throw new SsmcError('E_INTERNAL', `native helper: an argument of '${cmd}' has white space`);
    const t0 = performance.now();
    let reply = '';
    try {
      const h = this.#helper ?? (this.#helper = this.#start());
      let msg = '';
      for (let i = 0; i < this.#drops.length; i += DROPS_PER_LINE) msg += `drop ${this.#drops.slice(i, i + DROPS_PER_LINE).join(' ')}\n`;
      this.#drops = [];
      try {
        writeAll(h.cmd, `${msg}${words.join(' ')}\n`);
        reply = this.#readLine(h);
      } catch (e) {
        // EPIPE and the like: the helper is gone (its answer, if any, is lost)
        this.#stop();
        reply = `err -1 the helper process cannot be reached: ${(e as Error).message}`;
      }
    } finally {
      for (const p of this.#transient.splice(0)) rmSync(p, { force: true });
      const rec = nativeTimings.get(tag) ?? { calls: 0, ms: 0, cpuMs: 0 };
      rec.calls++;
      rec.ms += performance.now() - t0;
      nativeTimings.set(tag, rec);
      const ok = /^ok -?\d+ (-?\d+) (\d+) (\d+)$/.exec(reply);
      if (ok && this.#helper) {
        // The helper reports its CPU time so far; this command's share is the difference.
        const [user, sys] = [Number(ok[2]), Number(ok[3])];
        rec.cpuMs += user + sys - this.#helper.userMs - this.#helper.sysMs;
        nativePeak.userMs += user - this.#helper.userMs;
        nativePeak.sysMs += sys - this.#helper.sysMs;
        this.#helper.userMs = user;
        this.#helper.sysMs = sys;
        nativePeak.rssKiB = Math.max(nativePeak.rssKiB, Number(ok[1]));
      }
    }
    if (reply.startsWith('ok ')) return;
    this.#stop();
    const err = /^err (-?\d+) ?(.*)$/s.exec(reply);
    const code = err ? Number(err[1]) : -1;
    const text = err ? err[2] : reply;
    if (code === 3) throw new SsmcError('E_PASS', `the damped Hessian of ${what || 'a layer'} is not positive definite (raise damp)`);
    if (code === 4) throw new NativeOpError(text);
    throw new SsmcError('E_INTERNAL', `native helper '${cmd}' failed${code >= 0 ? ` (exit ${code})` : ''}: ${text}`);
  }

  /** Starts the helper on a fresh pair of named pipes and waits until it has opened them. */
  #start(): Helper {
    const n = ++this.#seq;
    const cmdPipe = join(this.dir, `${n}.cmd`);
    const replyPipe = join(this.dir, `${n}.reply`);
    const mk = spawnSync('mkfifo', ['-m', '600', cmdPipe, replyPipe], { encoding: 'utf8' });
    if (mk.error || mk.status !== 0) throw new SsmcError('E_UNSUPPORTED', `native helper: cannot make named pipes (mkfifo): ${mk.error?.message ?? mk.stderr}`);
    // The answer pipe is opened without blocking first: a helper that dies before opening
    // its end would otherwise leave this open() waiting forever.
    const probe = openSync(replyPipe, constants.O_RDONLY | constants.O_NONBLOCK);
    const child = spawn(this.exe, ['serve', cmdPipe, replyPipe], { stdio: ['ignore', 'ignore', process.env.SSMC_NATIVE_PROFILE ? 'inherit' : 'ignore'] });
    child.on('error', () => {}); // seen below as a helper that never answers
    child.unref();
    try {
      if (child.pid === undefined) throw new SsmcError('E_INTERNAL', `native helper: cannot start ${this.exe}`);
      const ready = Buffer.alloc(6);
      const deadline = performance.now() + START_TIMEOUT_MS;
      let got = 0;
      while (got < ready.length) {
        let k = 0;
        try {
          k = readSync(probe, ready, got, ready.length - got, null);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
        }
        got += k;
        if (got < ready.length) {
          if (performance.now() > deadline) throw new SsmcError('E_INTERNAL', `native helper: ${this.exe} did not start within ${START_TIMEOUT_MS / 1000} s`);
          Atomics.wait(sleeper, 0, 0, 1);
        }
      }
      if (ready.toString() !== 'ready\n') throw new SsmcError('E_INTERNAL', `native helper: unexpected greeting ${JSON.stringify(ready.toString())}`);
      // Both ends are open now: these opens pair up at once; reads on `reply` block.
      const reply = openSync(replyPipe, 'r');
      const cmd = openSync(cmdPipe, 'w');
      return { child, cmd, reply, userMs: 0, sysMs: 0 };
    } catch (e) {
      child.kill('SIGKILL');
      throw e;
    } finally {
      closeSync(probe);
      rmSync(cmdPipe, { force: true });
      rmSync(replyPipe, { force: true });
    }
  }

  /** One answer line; the helper's end closing first means it died. */
  #readLine(h: Helper): string {
    const buf = Buffer.alloc(4096);
    let line = this.#pending;
    for (;;) {
      const nl = line.indexOf('\n');
      if (nl >= 0) {
        this.#pending = line.slice(nl + 1);
        return line.slice(0, nl);
      }
      const k = readSync(h.reply, buf, 0, buf.length, null);
      if (k === 0) {
        this.#stop();
        return 'err -1 the helper process ended without answering (killed or crashed)';
      }
      line += buf.toString('utf8', 0, k);
    }
  }

  /** Ends the helper (its kept mappings go with it; the files stay for a next one). */
  #stop(): void {
    const h = this.#helper;
    if (!h) return;
    this.#helper = undefined;
    this.#pending = '';
    this.#drops = [];
    for (const fd of [h.cmd, h.reply]) {
      try {
        closeSync(fd);
      } catch {
        // already closed
      }
    }
    // The closed command pipe ends the helper's loop; SIGKILL covers one stuck in a command.
    if (h.child.exitCode === null && h.child.signalCode === null) h.child.kill('SIGKILL');
  }

  /** Ends the helper and deletes the folder and everything in it. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    liveSessions.delete(this);
    this.#stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));

function writeAll(fd: number, text: string): void {
  const b = Buffer.from(text);
  for (let off = 0; off < b.length; ) off += writeSync(fd, b, off, b.length - off);
}

// Sessions still open when the process exits (an error path that skipped close(), or the
// CLI's exit on Ctrl-C) are closed then: helpers killed, no arrays left in /dev/shm.
const liveSessions = new Set<NativeSession>();
process.once('exit', () => {
  for (const s of liveSessions) s.close();
});

/** The graph executor met an op or shape it does not implement (the caller falls back). */
export class NativeOpError extends SsmcError {
  constructor(message: string) {
    super('E_UNSUPPORTED', `native helper: ${message}`);
    this.name = 'NativeOpError';
  }
}
