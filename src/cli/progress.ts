// A progress bar with rate and ETA on a terminal; silent otherwise or with --json.
import type { CliIO } from './io.ts';

export interface Progress {
  update(done: number, total: number): void;
  done(): void;
}

export function progressBar(io: CliIO, label: string, quiet = false): Progress {
  if (!io.isTTY || quiet) return { update() {}, done() {} };
  const start = Date.now();
  let last = 0;
  let shown = false;
  return {
    update(done, total) {
      const now = Date.now();
      if (now - last < 100 && done < total) return;
      last = now;
      shown = true;
      const frac = total > 0 ? Math.min(1, done / total) : 1;
      const width = 28;
      const fill = Math.round(frac * width);
      const secs = (now - start) / 1000;
      const rate = secs > 0 ? done / secs : 0;
      const eta = rate > 0 ? (total - done) / rate : 0;
      io.err(`\r${label} [${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${done}/${total} ${rate.toFixed(0)}/s eta ${eta.toFixed(0)}s `);
    },
    done() {
      if (shown) io.err('\r\x1b[K');
      shown = false;
    },
  };
}
