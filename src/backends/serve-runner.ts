// A ModelRunner over any driver that speaks the `serve` protocol of the generated C
// driver (templates/c/ssmc_driver.c.hbs: a hello, then reset / step / prefill / save /
// restore / quit over two FIFOs). The C and OpenCL runners are thin subclasses that
// give the program and its arguments, the model's vocabulary and state layout, and
// how a failed start is reported.
//
// Why FIFOs: Node can block on a FIFO with fs.readSync / fs.writeSync, which keeps the
// ModelRunner interface synchronous. The FIFOs are first opened without blocking (a
// driver that never starts cannot hang us: we poll for its hello with a timeout), then
// reopened blocking; once the driver is up, its death shows as EOF or EPIPE.
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, readFileSync, readSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SsmcError } from '../errors.ts';
import { io } from '../frontend/mamba-graph.ts';
import type { ModelRunner, StateSnapshot } from '../runtime/runner.ts';

export interface ServeModel {
  readonly vocab: number;
  readonly stateFloats: number;
  /** State tensors in snapshot order. */
  readonly state: ReadonlyArray<{ readonly name: string; readonly size: number }>;
}

export interface ServeOptions {
  /** Label in messages ("OpenCL driver"). */
  readonly label: string;
  /** Program and its arguments before `serve --in … --out …`. */
  readonly argv: readonly string[];
  /** Extra arguments after them. */
  readonly extraArgs?: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
  readonly startupTimeoutMs?: number;
  /** Turns a startup failure (the driver's message or stderr) into an error. */
  readonly startupError?: (text: string) => Error | undefined;
}

const OP = { quit: 0, reset: 1, step: 2, prefill: 3, save: 4, restore: 5, prefillLast: 6 } as const;
const HELLO_MAGIC = 0x434d5353;
const STATUS: Record<number, string> = { 1: 'I/O error', 2: 'bad weights file', 3: 'token outside the vocabulary', 4: 'bad request', 5: 'out of memory', 6: 'device error', 8: 'gather index out of range' };

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

export class ServeRunner implements ModelRunner {
  readonly vocabSize: number;
  readonly #model: ServeModel;
  readonly #opts: ServeOptions;
  readonly #child: ChildProcess;
  readonly #tmp: string;
  readonly #stderrPath: string;
  #req = -1;
  #resp = -1;
  #closed = false;
  readonly #convIdx: number[] = [];
  readonly #ssmIdx: number[] = [];
  readonly #offsets: number[] = [];

  constructor(model: ServeModel, opts: ServeOptions) {
    this.#model = model;
    this.#opts = opts;
    this.vocabSize = model.vocab;
    let off = 0;
    for (const s of model.state) {
      this.#offsets.push(off);
      off += s.size;
    }
    const names = model.state.map((s) => s.name);
    for (let i = 0; names.includes(io.conv(i)); i++) {
      this.#convIdx.push(names.indexOf(io.conv(i)));
      this.#ssmIdx.push(names.indexOf(io.ssm(i)));
    }
    this.#tmp = mkdtempSync(join(tmpdir(), 'ssmc-serve-'));
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
    const argv = [...opts.argv, 'serve', '--in', reqPath, '--out', respPath, ...(opts.extraArgs ?? [])];
    const errFd = openSync(this.#stderrPath, 'w');
    try {
      this.#child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'ignore', errFd], env: opts.env ?? process.env });
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

  #fail(what: string, startup = false): never {
    const err = this.#stderr();
    if (startup) {
      const typed = this.#opts.startupError?.(err);
      if (typed) throw typed;
    }
    throw new SsmcError('E_IO', `${this.#opts.label} ${what}${err ? `: ${err}` : ''}`);
  }

  #start(reqPath: string, respPath: string, timeoutMs: number): void {
    const reqRw = openSync(reqPath, constants.O_RDWR);
    const respNb = openSync(respPath, constants.O_RDONLY | constants.O_NONBLOCK);
    const hello = new Uint8Array(20);
    const deadline = Date.now() + timeoutMs;
    let message: string | undefined;
    try {
      this.#readNb(respNb, hello, deadline);
      const h = new Uint32Array(hello.buffer);
      if (h[0] !== HELLO_MAGIC) this.#fail('sent a bad hello (wrong program?)');
      if (h[1] !== 0) {
        // The driver exits right after this message: read it on the non-blocking handle
        // (a blocking reopen would wait forever for a writer that is gone).
        const msg = new Uint8Array(h[4]);
        this.#readNb(respNb, msg, deadline, true);
        message = new TextDecoder().decode(msg).replace(/\0+$/, '');
      } else {
        if (h[2] !== this.#model.vocab || h[3] !== this.#model.stateFloats) this.#fail('does not match manifest.json');
        // Up and waiting for requests: reopen both pipes blocking, drop the first handles.
        this.#resp = openSync(respPath, constants.O_RDONLY);
        this.#req = openSync(reqPath, constants.O_WRONLY);
      }
    } finally {
      closeSync(respNb);
      closeSync(reqRw);
    }
    if (message !== undefined) throw this.#opts.startupError?.(message) ?? new SsmcError('E_IO', `${this.#opts.label} cannot load the model: ${message}`);
  }

  /** Fills `buf` from a non-blocking handle, polling; a driver that dies or stalls is an error (or, with `eofOk`, the end). */
  #readNb(fd: number, buf: Uint8Array, deadline: number, eofOk = false): void {
    for (let off = 0; off < buf.length; ) {
      let n = -1;
      try {
        n = readSync(fd, buf, off, buf.length - off, null);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
      }
      if (n > 0) {
        off += n;
        continue;
      }
      if (n === 0 && off > 0) {
        if (eofOk) return;
        this.#fail('exited during startup', true);
      }
      if (isDead(this.#child.pid) || this.#child.exitCode !== null) {
        if (eofOk) return;
        this.#fail('exited during startup', true);
      }
      if (Date.now() > deadline) this.#fail(`did not start within ${this.#opts.startupTimeoutMs ?? 60_000} ms`, true);
      sleepMs(2);
    }
  }

  #readInto(buf: Uint8Array, from: number): void {
    for (let off = from; off < buf.length; ) {
      const n = readSync(this.#resp, buf, off, buf.length - off, null);
      if (n === 0) this.#fail('exited');
      off += n;
    }
  }

  #request(op: number, n: number, payload?: ArrayBufferView): Float32Array {
    if (this.#closed) throw new SsmcError('E_ARG', `${this.#opts.label}: runner is closed`);
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
    if (status !== 0) throw new SsmcError(status === 3 ? 'E_TOKENS' : 'E_ARG', `${this.#opts.label}: ${STATUS[status] ?? `error ${status}`}`);
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

  /** Op 6: the C driver runs ssmc_prefill_last (no head for the other tokens); OpenCL's answers with a full prefill's last row. */
  prefillLast(tokens: Int32Array): Float32Array {
    if (tokens.length === 0) throw new SsmcError('E_ARG', `${this.#opts.label}: prefillLast needs at least one token`);
    this.#checkTokens(tokens);
    return this.#request(OP.prefillLast, tokens.length, tokens);
  }

  saveState(): StateSnapshot {
    const all = this.#request(OP.save, 0);
    const part = (i: number) => all.slice(this.#offsets[i], this.#offsets[i] + this.#model.state[i].size);
    return { conv: this.#convIdx.map(part), ssm: this.#ssmIdx.map(part) };
  }

  restoreState(s: StateSnapshot): void {
    const nLayer = this.#convIdx.length;
    if (s.conv.length !== nLayer || s.ssm.length !== nLayer) throw new SsmcError('E_ARG', `state has ${s.conv.length} layers, model has ${nLayer}`);
    const all = new Float32Array(this.#model.stateFloats);
    const put = (a: Float32Array, i: number, what: string) => {
      if (a.length !== this.#model.state[i].size) throw new SsmcError('E_ARG', `state ${what} has ${a.length} values, model needs ${this.#model.state[i].size}`);
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
