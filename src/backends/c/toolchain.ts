// Runs the C toolchain over an emitted folder: the compiler directly (the build the
// runner uses), or make / cmake as a user would. Failures are ToolchainErrors that
// carry the tool's own message.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { SsmcError } from '../../errors.ts';

export type Arch = 'host' | 'aarch64';
export type SimdMode = 'auto' | 'simde' | 'neon' | 'plain';

export interface BuildOptions {
  readonly arch?: Arch;
  /** Compiler command (may include arguments); default $CC or `cc` (host), $CROSS_CC or `aarch64-linux-gnu-gcc` (aarch64). */
  readonly cc?: string;
  /** auto: NEON on ARM targets, NEON through SIMDe elsewhere. */
  readonly simd?: SimdMode;
  /** -fsanitize=address,undefined. */
  readonly sanitize?: boolean;
  /** Optimisation flags (default -O3). */
  readonly opt?: string;
  /**
   * Host builds: -march=native (default on), so that the kernels take the machine's
   * widest vectors (AVX-512 / AVX2 + F16C on x86; ssmc_kernels.h picks by the
   * compiler's macros). Ignored for aarch64 cross builds.
   */
  readonly native?: boolean;
  /** Extra compiler flags. */
  readonly cflags?: readonly string[];
  /** Name of the program in the folder (default ssmc_driver). */
  readonly output?: string;
}

/** The toolchain is missing (`missing`) or reported an error (`failed`). */
export class ToolchainError extends SsmcError {
  readonly kind: 'missing' | 'failed';
  readonly command: string;
  /** What the tool wrote to stderr and stdout. */
  readonly output: string;
  constructor(kind: 'missing' | 'failed', command: string, output: string, message: string) {
    super(kind === 'missing' ? 'E_UNSUPPORTED' : 'E_TOOLCHAIN', message);
    this.name = 'ToolchainError';
    this.kind = kind;
    this.command = command;
    this.output = output;
  }
}

export const SOURCES = ['model.c', 'ssmc_runtime.c', 'ssmc_driver.c'] as const;

function splitCommand(cmd: string): string[] {
  return cmd.trim().split(/\s+/).filter(Boolean);
}

export function defaultCompiler(arch: Arch): string {
  return arch === 'aarch64' ? (process.env.CROSS_CC ?? 'aarch64-linux-gnu-gcc') : (process.env.CC ?? 'cc');
}

/** True when `cmd --version` runs. */
export function toolExists(cmd: string): boolean {
  const [exe, ...args] = splitCommand(cmd);
  if (!exe) return false;
  const r = spawnSync(exe, [...args, '--version'], { stdio: 'ignore' });
  return !r.error && r.status === 0;
}

function run(cwd: string, argv: readonly string[], what: string, timeoutMs = 600_000): string {
  const [exe, ...args] = argv;
  const r = spawnSync(exe, args, { cwd, encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 << 20 });
  const command = argv.join(' ');
  const output = `${r.stderr ?? ''}${r.stdout ?? ''}`.trim();
  if (r.error && (r.error as NodeJS.ErrnoException).code === 'ENOENT') {
    throw new ToolchainError('missing', command, '', `${what}: '${exe}' was not found (install a C toolchain, or set CC)`);
  }
  if (r.error) throw new ToolchainError('failed', command, output, `${what}: ${r.error.message}`);
  if (r.status !== 0) {
    const tail = output.length > 4000 ? `…${output.slice(-4000)}` : output;
    throw new ToolchainError('failed', command, output, `${what} failed (exit ${r.status ?? r.signal}):\n${tail}`);
  }
  return output;
}

const simdeSeen = new Map<string, boolean>();

/**
 * Whether the compiler finds SIMDe's NEON header. A machine that never ran
 * `npm run setup` has none; the plain C path then computes the same thing, slower.
 */
export function hasSimde(cc: readonly string[]): boolean {
  const key = cc.join(' ');
  let seen = simdeSeen.get(key);
  if (seen === undefined) {
    const r = spawnSync(cc[0], [...cc.slice(1), '-E', '-x', 'c', '-'], { input: '#include <simde/arm/neon.h>\n', encoding: 'utf8', maxBuffer: 64 << 20 });
    seen = r.status === 0;
    simdeSeen.set(key, seen);
  }
  return seen;
}

/** The compiler command line that builds the driver in `dir`. */
export function compileCommand(opts: BuildOptions = {}): string[] {
  const arch = opts.arch ?? 'host';
  const cc = splitCommand(opts.cc ?? defaultCompiler(arch));
  let simd = opts.simd ?? 'auto';
  if (simd === 'auto') simd = arch === 'aarch64' || /^(arm64|aarch64)$/.test(process.arch) ? 'neon' : hasSimde(cc) ? 'simde' : 'plain';
  const defs = simd === 'simde' ? ['-DSSMC_USE_SIMDE'] : simd === 'plain' ? ['-DSSMC_PLAIN_C'] : [];
  const san = opts.sanitize ? ['-g', '-fno-omit-frame-pointer', '-fsanitize=address,undefined', '-fno-sanitize-recover=all'] : [];
  const opt = splitCommand(opts.opt ?? (opts.sanitize ? '-O1' : '-O3'));
  const march = arch === 'host' && opts.native !== false && !(opts.cflags ?? []).some((f) => /^-m(arch|cpu)=/.test(f)) ? ['-march=native'] : [];
  return [...cc, ...opt, '-std=c11', ...defs, ...march, ...san, ...(opts.cflags ?? []), '-o', opts.output ?? 'ssmc_driver', ...SOURCES, '-lm', '-lpthread'];
}

/** Compiles the driver in `dir`; returns the program's path. */
export function buildDriver(dir: string, opts: BuildOptions = {}): string {
  for (const f of SOURCES) if (!existsSync(join(dir, f))) throw new SsmcError('E_IO', `not an emitted C folder (no ${f})`, { file: dir });
  run(dir, compileCommand(opts), 'C compiler');
  return join(dir, opts.output ?? 'ssmc_driver');
}

/** `make` in `dir` with the given variables (e.g. { ARCH: 'aarch64' }). */
export function buildWithMake(dir: string, vars: Readonly<Record<string, string>> = {}): string {
  run(dir, ['make', '--no-print-directory', ...Object.entries(vars).map(([k, v]) => `${k}=${v}`)], 'make');
  return join(dir, 'ssmc_driver');
}

/** `cmake -B build` + `cmake --build build` in `dir`; extra configure arguments allowed. */
export function buildWithCmake(dir: string, buildDir = 'build', configure: readonly string[] = []): string {
  run(dir, ['cmake', '-S', '.', '-B', buildDir, ...configure], 'cmake configure');
  run(dir, ['cmake', '--build', buildDir], 'cmake build');
  return join(dir, buildDir, 'ssmc_driver');
}
