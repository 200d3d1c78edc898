// A progress bar with rate and ETA on a terminal; silent otherwise or with --json.
import type { CliIO } from './io.ts';

export interface Progress {
  /**
   * Shows `done` of `total` in `stage` (default: the bar's label). A new stage restarts
   * the rate and ETA; `detail` is shown after the counts and restarts nothing (the
   * current step of a stage, such as the file being compiled).
   */
  update(done: number, total: number, stage?: string, detail?: string): void;
  done(): void;
}

export function progressBar(io: CliIO, label: string, quiet = false): Progress {
  if (!io.isTTY || quiet) return { update() {}, done() {} };
  let start = Date.now();
  let lastStage: string | undefined;
  let lastDetail: string | undefined;
  let last = 0;
  let shown = false;
  return {
    update(done, total, stage, detail) {
      const now = Date.now();
      if (stage !== lastStage) {
        // A new stage has its own rate and ETA.
        lastStage = stage;
        start = now;
        last = 0;
      }
      // Redraw at most every 100 ms, but always for a new step and at the end.
      if (now - last < 100 && done < total && detail === lastDetail) return;
      lastDetail = detail;
      last = now;
      shown = true;
      const frac = total > 0 ? Math.min(1, done / total) : 1;
      const width = 28;
      const fill = Math.round(frac * width);
      const secs = (now - start) / 1000;
      const rate = secs > 0 ? done / secs : 0;
      const eta = rate > 0 ? (total - done) / rate : 0;
      io.err(`\r\x1b[K${stage ?? label} [${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${done}/${total} ${rate.toFixed(0)}/s eta ${eta.toFixed(0)}s${detail ? ` ${detail}` : ''} `);
    },
    done() {
      if (shown) io.err('\r\x1b[K');
      shown = false;
    },
  };
}

/**
 * A bar over named steps (compilation: passes, emitting, the C compiler): `next(what)`
 * marks the previous step done and shows `what` as the current one.
 */
export interface Steps {
  next(what: string): void;
  done(): void;
}

export function stepBar(io: CliIO, label: string, total: number, quiet = false): Steps {
  const bar = progressBar(io, label, quiet);
  let step = 0;
  let finished = false;
  return {
    next(what) {
      bar.update(step, total, label, what);
      step = Math.min(step + 1, total);
    },
    // Idempotent: callers finish on success and again in a `finally`.
    done() {
      if (finished) return;
      finished = true;
      if (step > 0) bar.update(total, total, label);
      bar.done();
    },
  };
}

/**
 * Shows `what` as a one-step bar while `f` runs: the compile step of
 * `--backend c|opencl` (emitting and the C compiler; a cached build returns at once).
 */
export function withStep<T>(io: CliIO, label: string, what: string, quiet: boolean | undefined, f: () => T): T {
  const steps = stepBar(io, label, 1, quiet);
  try {
    steps.next(what);
    return f();
  } finally {
    steps.done();
  }
}

/** The label of the compile step of a runner on `backend` (undefined: nothing to compile). */
export function compileStep(backend: string): string | undefined {
  if (backend === 'c') return 'emitting C and running the C compiler (cached per model)';
  if (backend === 'opencl') return 'emitting OpenCL and building the host driver (cached per model)';
  return undefined;
}
