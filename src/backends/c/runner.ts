// ModelRunner over a compiled C folder: the driver runs as a child process in `serve`
// mode and is driven synchronously through two named pipes (mkfifo). Node can block
// on a FIFO with fs.readSync / fs.writeSync, which keeps the ModelRunner interface
// synchronous without threads or busy event-loop tricks. The FIFOs are first opened
// without blocking (so a driver that never starts cannot hang us: we poll for its
// hello with a timeout), then reopened in blocking mode; once the driver is up, its
// death shows as EOF (reads) or EPIPE (writes), never as a hang.
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { closeSync, constants, existsSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SsmcError } from '../../errors.ts';
import { io } from '../../frontend/mamba-graph.ts';
import type { ModelRunner, StateSnapshot } from '../../runtime/runner.ts';
import type { CManifest } from './emit.ts';

export interface CRunnerOptions {
  /** Thread count of the driver (default: the one compiled in). */
  readonly threads?: number;
  /** Program to run (default `<dir>/ssmc_driver`). */
  readonly driver?: string;
  /** Command prefix, e.g. ['qemu-aarch64', '-L', '/usr/aarch64-linux-gnu']. */
  readonly exec?: readonly string[];
  /** Weights file (default `<dir>/weights.bin`). */
  readonly weights?: string;
  /** Verify the weights checksum on load (default true). */
  readonly verify?: boolean;
  /** How long the driver may take to load (default 60 s). */
  readonly startupTimeoutMs?: number;
}

const OP = { quit: 0, reset: 1, step: 2, prefill: 3, save: 4, restore: 5 } as const;
const HELLO_MAGIC = 0x434d5353;
const STATUS: Record<number, string> = { 1: 'I/O error', 2: 'bad weights file', 3: 'token outside the vocabulary', 4: 'bad request', 5: 'out of memory' };

function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function isDead(pid: number | undefined): boolean {
  if (pid === undefined) return true;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return / [ZX] /.test(stat.slice(stat.lastIndexOf(')') + 1, stat.lastIndexOf(')') + 4));
  } catch {
    return false; // no /proc: rely on the timeout
  }
}

export function readManifest(dir: string): CManifest {
  try {
    const m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as CManifest;
    if (m.format !== 'ssmc-c' || m.version !== 1) throw new Error(`unknown manifest format ${m.format} v${m.version}`);
    return m;
  } catch (e) {
    throw new SsmcError('E_IO', `not a compiled C model: ${(e as Error).message}`, { file: dir });
  }
}

export class CRunner implements ModelRunner {
  readonly vocabSize: number;
  readonly manifest: CManifest;
  readonly #child: ChildProcess;
  readonly #tmp: string;
  readonly #stderrPath: string;
  #req = -1;
  #resp = -1;
  #closed = false;
  readonly #convIdx: number[] = [];
  readonly #ssmIdx: number[] = [];
  readonly #offsets: number[] = [];

  constructor(dir: string, opts: CRunnerOptions = {}) {
    this.manifest = readManifest(dir);
    this.vocabSize = this.manifest.vocab;
    let off = 0;
    for (const s of this.manifest.state) {
      this.#offsets.push(off);
      off += s.size;
    }
    const names = this.manifest.state.map((s) => s.name);
    for (let i = 0; names.includes(io.conv(i)); i++) {
      this.#convIdx.push(names.indexOf(io.conv(i)));
      this.#ssmIdx.push(names.indexOf(io.ssm(i)));
    }
    const driver = opts.driver ?? join(dir, 'ssmc_driver');
    if (!existsSync(driver)) throw new SsmcError('E_IO', 'no driver program: build the folder first', { file: driver });
    this.#tmp = mkdtempSync(join(tmpdir(), 'ssmc-c-'));
    const reqPath = join(this.#tmp, 'req');
    const respPath = join(this.#tmp, 'resp');
    this.#stderrPath = join(this.#tmp, 'stderr');
    for (const p of [reqPath, respPath]) {
      const r = spawnSync('mkfifo', [p]);
      if (r.status !== 0) {
        rmSync(this.#tmp, { recursive: true, force: true });
        throw new SsmcError('E_IO', `mkfifo failed: ${r.error?.message ?? r.stderr?.toString()}`, { file: p });
      }
    }
    const args = ['serve', '--in', reqPath, '--out', respPath, '--weights', opts.weights ?? join(dir, 'weights.bin')];
    if (opts.threads !== undefined) args.push('--threads', String(opts.threads));
    if (opts.verify === false) args.push('--no-verify');
    const argv = [...(opts.exec ?? []), driver, ...args];
    const errFd = openSync(this.#stderrPath, 'w');
    try {
      this.#child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'ignore', errFd] });
    } finally {
      closeSync(errFd);
    }
    this.#child.on('error', () => {}); // reported through the startup timeout / EOF
    this.#child.unref();
    try {
      this.#start(reqPath, respPath, opts.startupTimeoutMs ?? 60_000);
    } catch (e) {
      this.#teardown(true);
      throw e;
    }
  }

  #stderr(): string {
    try {
      return readFileSync(this.#stderrPath, 'utf8').trim();
    } catch {
      return '';
    }
  }

  #fail(what: string): never {
    const err = this.#stderr();
    throw new SsmcError('E_IO', `C driver ${what}${err ? `: ${err}` : ''}`);
  }

  #start(reqPath: string, respPath: string, timeoutMs: number): void {
    const reqRw = openSync(reqPath, constants.O_RDWR);
    const respNb = openSync(respPath, constants.O_RDONLY | constants.O_NONBLOCK);
    const hello = new Uint8Array(20);
    let got = 0;
    const deadline = Date.now() + timeoutMs;
    try {
      while (got === 0) {
        try {
          got = readSync(respNb, hello, 0, hello.length, null);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
        }
        if (got > 0) break;
        if (isDead(this.#child.pid) || this.#child.exitCode !== null) this.#fail('exited during startup');
        if (Date.now() > deadline) this.#fail(`did not start within ${timeoutMs} ms`);
        sleepMs(2);
      }
      // The driver holds both pipes now: reopen them blocking and drop the first handles.
      this.#resp = openSync(respPath, constants.O_RDONLY);
      this.#req = openSync(reqPath, constants.O_WRONLY);
    } finally {
      closeSync(respNb);
      closeSync(reqRw);
    }
    this.#readInto(hello, got);
    const h = new Uint32Array(hello.buffer);
    if (h[0] !== HELLO_MAGIC) this.#fail('sent a bad hello (wrong program?)');
    if (h[1] !== 0) {
      const msg = new Uint8Array(h[4]);
      this.#readInto(msg, 0);
      throw new SsmcError('E_IO', `C driver cannot load the model: ${new TextDecoder().decode(msg)}`);
    }
    if (h[2] !== this.manifest.vocab || h[3] !== this.manifest.stateFloats) this.#fail('does not match manifest.json');
  }

  #readInto(buf: Uint8Array, from: number): void {
    for (let off = from; off < buf.length; ) {
      const n = readSync(this.#resp, buf, off, buf.length - off, null);
      if (n === 0) this.#fail('exited');
      off += n;
    }
  }

  #request(op: number, n: number, payload?: ArrayBufferView): Float32Array {
    if (this.#closed) throw new SsmcError('E_ARG', 'C runner is closed');
    const head = new Uint32Array([op, n]);
    try {
      writeSync(this.#req, new Uint8Array(head.buffer));
      if (payload) {
        const bytes = new Uint8Array(payload.buffer, payload.byteOffset, payload.byteLength);
        for (let off = 0; off < bytes.length; ) off += writeSync(this.#req, bytes, off, bytes.length - off);
      }
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EPIPE') this.#fail('exited');
      throw e;
    }
    const rh = new Uint8Array(8);
    this.#readInto(rh, 0);
    const [status, count] = new Uint32Array(rh.buffer);
    if (status !== 0) throw new SsmcError(status === 3 ? 'E_TOKENS' : 'E_ARG', `C driver: ${STATUS[status] ?? `error ${status}`}`);
    const out = new Float32Array(count);
    this.#readInto(new Uint8Array(out.buffer), 0);
    return out;
  }

  #checkTokens(tokens: ArrayLike<number>): void {
    for (let i = 0; i < tokens.length; i++) {
      const t = tokens[i];
      if (!Number.isInteger(t) || t < 0 || t >= this.vocabSize) throw new SsmcError('E_TOKENS', `token ${t} at position ${i} is outside the vocabulary [0, ${this.vocabSize})`);
    }
  }

  reset(): void {
    this.#request(OP.reset, 0);
  }

  step(token: number): Float32Array {
    this.#checkTokens([token]);
    return this.#request(OP.step, 1, Int32Array.of(token));
  }

  prefill(tokens: Int32Array): Float32Array {
    if (tokens.length === 0) return new Float32Array(0);
    this.#checkTokens(tokens);
    return this.#request(OP.prefill, tokens.length, tokens);
  }

  saveState(): StateSnapshot {
    const all = this.#request(OP.save, 0);
    const part = (i: number) => all.slice(this.#offsets[i], this.#offsets[i] + this.manifest.state[i].size);
    return { conv: this.#convIdx.map(part), ssm: this.#ssmIdx.map(part) };
  }

  restoreState(s: StateSnapshot): void {
    const nLayer = this.#convIdx.length;
    if (s.conv.length !== nLayer || s.ssm.length !== nLayer) throw new SsmcError('E_ARG', `state has ${s.conv.length} layers, model has ${nLayer}`);
    const all = new Float32Array(this.manifest.stateFloats);
    const put = (a: Float32Array, i: number, what: string) => {
      if (a.length !== this.manifest.state[i].size) throw new SsmcError('E_ARG', `state ${what} has ${a.length} values, model needs ${this.manifest.state[i].size}`);
      all.set(a, this.#offsets[i]);
    };
    s.conv.forEach((a, l) => put(a, this.#convIdx[l], io.conv(l)));
    s.ssm.forEach((a, l) => put(a, this.#ssmIdx[l], io.ssm(l)));
    this.#request(OP.restore, all.length, all);
  }

  close(): void {
    if (this.#closed) return;
    try {
      writeSync(this.#req, new Uint8Array(new Uint32Array([OP.quit, 0]).buffer));
    } catch {
      /* already gone */
    }
    this.#teardown(false);
  }

  #teardown(kill: boolean): void {
    this.#closed = true;
    for (const fd of [this.#req, this.#resp]) if (fd >= 0) try { closeSync(fd); } catch { /* closed */ }
    this.#req = this.#resp = -1;
    if (kill && this.#child.exitCode === null) this.#child.kill('SIGKILL');
    rmSync(this.#tmp, { recursive: true, force: true });
  }
}
