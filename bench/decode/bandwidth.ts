// Builds and runs bandwidth.c (the read-bandwidth roofline of this machine).
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

export interface Bandwidth {
  readonly threads: number;
  readonly best_gbps: number;
  readonly by_streams: Record<string, number>;
  readonly vector_bits: number;
}

export function buildBandwidth(dir: string): string {
  const exe = join(dir, 'bandwidth');
  execFileSync(process.env.CC ?? 'cc', ['-O3', '-march=native', '-pthread', join(import.meta.dirname, 'bandwidth.c'), '-o', exe]);
  return exe;
}

/** Best of `runs` passes over a `gib` GiB array with `threads` threads, for 2, 3 and 4 streams. */
export function measureBandwidth(exe: string, threads: number, gib = 1, runs = 3): Bandwidth {
  return JSON.parse(execFileSync(exe, [String(gib), String(threads), String(runs)], { encoding: 'utf8' })) as Bandwidth;
}
