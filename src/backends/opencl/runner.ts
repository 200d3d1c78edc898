// ModelRunner over a compiled OpenCL folder: its driver in `serve` mode, through the
// generic serve client. A machine without OpenCL (no loader, no platform, no device)
// gets an OpenCLUnavailableError naming what is missing.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { SsmcError } from '../../errors.ts';
import { readOpenCLManifest } from './compile.ts';
import type { OpenCLManifest } from './emit.ts';
import { classifyOpenCLFailure } from './errors.ts';
import { ServeRunner } from '../serve-runner.ts';

export interface OpenCLRunnerOptions {
  /** Program to run (default `<dir>/ssmc_driver`). */
  readonly driver?: string;
  /** Weights file (default `<dir>/weights.bin`). */
  readonly weights?: string;
  /** Verify the weights checksum on load (default true). */
  readonly verify?: boolean;
  /** Environment of the driver (e.g. SSMC_OPENCL_DEVICE, OCL_ICD_VENDORS). */
  readonly env?: NodeJS.ProcessEnv;
  /** How long the driver may take to build the kernels and upload (default 120 s). */
  readonly startupTimeoutMs?: number;
}

export class OpenCLRunner extends ServeRunner {
  readonly manifest: OpenCLManifest;
  constructor(dir: string, opts: OpenCLRunnerOptions = {}) {
    const manifest = readOpenCLManifest(dir);
    const driver = opts.driver ?? join(dir, 'ssmc_driver');
    if (!existsSync(driver)) throw new SsmcError('E_IO', 'no driver program: build the folder first', { file: driver });
    super(manifest, {
      label: 'OpenCL driver',
      argv: [driver],
      extraArgs: ['--weights', opts.weights ?? join(dir, 'weights.bin'), ...(opts.verify === false ? ['--no-verify'] : [])],
      env: opts.env,
      startupTimeoutMs: opts.startupTimeoutMs ?? 120_000,
      startupError: classifyOpenCLFailure,
    });
    this.manifest = manifest;
  }
}
