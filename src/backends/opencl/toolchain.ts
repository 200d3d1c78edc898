// Builds the driver of an emitted OpenCL folder with the C compiler (the same
// ToolchainError as the C backend); a missing header or loader becomes an
// OpenCLUnavailableError that names the package.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { SsmcError } from '../../errors.ts';
import { ToolchainError, defaultCompiler } from '../c/toolchain.ts';
import { classifyOpenCLFailure } from './errors.ts';

export interface OpenCLBuildOptions {
  /** Compiler command (may include arguments); default $CC or `cc`. */
  readonly cc?: string;
  /** Optimisation flags (default -O2). */
  readonly opt?: string;
  readonly cflags?: readonly string[];
  /** Linker argument for the ICD loader (default -lOpenCL). */
  readonly openclLib?: string;
}

export const SOURCES = ['model.c', 'ssmc_runtime.c', 'ssmc_driver.c'] as const;

const split = (s: string) => s.trim().split(/\s+/).filter(Boolean);

export function compileCommand(opts: OpenCLBuildOptions = {}): string[] {
  return [...split(opts.cc ?? defaultCompiler('host')), ...split(opts.opt ?? '-O2'), '-std=c11', ...(opts.cflags ?? []), '-o', 'ssmc_driver', ...SOURCES, ...split(opts.openclLib ?? '-lOpenCL'), '-lm'];
}

/** Compiles `<dir>/ssmc_driver`; returns its path. */
export function buildOpenCLDriver(dir: string, opts: OpenCLBuildOptions = {}): string {
  for (const f of SOURCES) if (!existsSync(join(dir, f))) throw new SsmcError('E_IO', `not an emitted OpenCL folder (no ${f})`, { file: dir });
  const argv = compileCommand(opts);
  const r = spawnSync(argv[0], argv.slice(1), { cwd: dir, encoding: 'utf8', timeout: 600_000, maxBuffer: 64 << 20 });
  const command = argv.join(' ');
  const output = `${r.stderr ?? ''}${r.stdout ?? ''}`.trim();
  if (r.error && (r.error as NodeJS.ErrnoException).code === 'ENOENT') throw new ToolchainError('missing', command, '', `C compiler: '${argv[0]}' was not found (install a C toolchain, or set CC)`);
  if (r.error) throw new ToolchainError('failed', command, output, `C compiler: ${r.error.message}`);
  if (r.status !== 0) {
    const missing = classifyOpenCLFailure(output);
    if (missing) throw missing;
    throw new ToolchainError('failed', command, output, `C compiler failed (exit ${r.status ?? r.signal}):\n${output.length > 4000 ? `…${output.slice(-4000)}` : output}`);
  }
  return join(dir, 'ssmc_driver');
}
