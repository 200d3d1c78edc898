// ModelRunner over a compiled C folder: its driver in `serve` mode, through the shared
// serve client (src/backends/serve-runner.ts: two FIFOs, blocking reads, startup
// timeout).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SsmcError } from '../../errors.ts';
import { ServeRunner } from '../serve-runner.ts';
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

export function readManifest(dir: string): CManifest {
  try {
    const m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as CManifest;
    if (m.format !== 'ssmc-c' || m.version !== 1) throw new Error(`unknown manifest format ${m.format} v${m.version}`);
    return m;
  } catch (e) {
    throw new SsmcError('E_IO', `not a compiled C model: ${(e as Error).message}`, { file: dir });
  }
}

export class CRunner extends ServeRunner {
  readonly manifest: CManifest;

  constructor(dir: string, opts: CRunnerOptions = {}) {
    const manifest = readManifest(dir);
    const driver = opts.driver ?? join(dir, 'ssmc_driver');
    if (!existsSync(driver)) throw new SsmcError('E_IO', 'no driver program: build the folder first', { file: driver });
    super(manifest, {
      label: 'C driver',
      argv: [...(opts.exec ?? []), driver],
      extraArgs: [
        '--weights',
        opts.weights ?? join(dir, 'weights.bin'),
        ...(opts.threads !== undefined ? ['--threads', String(opts.threads)] : []),
        ...(opts.verify === false ? ['--no-verify'] : []),
      ],
      startupTimeoutMs: opts.startupTimeoutMs ?? 60_000,
    });
    this.manifest = manifest;
  }
}
