// A progress bar with rate and ETA on a terminal; silent otherwise or with --json.
import type { CliIO } from './io.ts';

export interface Progress {
  update(done: number, total: number, label?: string): void;
  done(): void;
}

export function progressBar(io: CliIO, label: string, quiet = false): Progress {
  if (!io.isTTY || quiet) return { update() {}, done() {} };
  let start = Date.now();
  let lastStage: string | undefined;
  let last = 0;
  let shown = false;
  return {
    update(done, total, stage) {
      const now = Date.now();
      if (stage !== lastStage) {
        // A new stage has its own rate and ETA.
        lastStage = stage;
        start = now;
        last = 0;
      }
      if (now - last < 100 && done < total) return;
      last = now;
      shown = true;
      const frac = total > 0 ? Math.min(1, done / total) : 1;
      const width = 28;
      const fill = Math.round(frac * width);
      const secs = (now - start) / 1000;
      const rate = secs > 0 ? done / secs : 0;
      const eta = rate > 0 ? (total - done) / rate : 0;
      io.err(`\r${stage ?? label} [${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${done}/${total} ${rate.toFixed(0)}/s eta ${eta.toFixed(0)}s `);
    },
    done() {
      if (shown) io.err('\r\x1b[K');
      shown = false;
    },
  };
}
