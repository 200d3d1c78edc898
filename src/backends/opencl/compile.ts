// Emitting, writing and building an OpenCL model folder; a content-keyed build cache
// (beside the C backend's, same root) for runners that compile on demand.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SsmcError } from '../../errors.ts';
import type { Graph } from '../../ir/graph.ts';
import { castWeights } from '../../passes/cast-weights.ts';
import { cacheRoot } from '../c/compile.ts';
import type { OpenCLEmitOptions, OpenCLManifest, OpenCLModule } from './emit.ts';
import { emitOpenCL } from './emit.ts';
import type { OpenCLBuildOptions } from './toolchain.ts';
import { buildOpenCLDriver } from './toolchain.ts';
import { writeEmittedFolder } from '../write-module.ts';

export interface OpenCLCompileOptions extends OpenCLEmitOptions {
  /** cast-weights shorthand: f16 for the matrices, or f32 for every weight; default as the graph stores them. */
  readonly dtype?: 'f32' | 'f16';
  /** Build the driver after writing (default yes). */
  readonly build?: OpenCLBuildOptions | false;
}

export interface OpenCLCompileResult {
  readonly dir: string;
  readonly manifest: OpenCLManifest;
  readonly driver?: string;
}

const withDType = (g: Graph, dtype: 'f32' | 'f16' | undefined) => (dtype === undefined ? g : castWeights(g, dtype, dtype === 'f16' ? 'matrices' : 'all'));

/** Writes an emitted module into `dir` atomically. */
export function writeOpenCLModule(mod: OpenCLModule, dir: string): void {
  writeEmittedFolder(mod, dir);
}

/** Emits, writes and (unless `build: false`) builds a decode graph as an OpenCL folder. */
export function compileOpenCL(decode: Graph, dir: string, opts: OpenCLCompileOptions = {}): OpenCLCompileResult {
  const mod = emitOpenCL(withDType(decode, opts.dtype), opts);
  writeOpenCLModule(mod, dir);
  if (opts.build === false) return { dir, manifest: mod.manifest };
  return { dir, manifest: mod.manifest, driver: buildOpenCLDriver(dir, opts.build ?? {}) };
}

/** compileOpenCL into `<cache>/opencl-<hash>` (sources, weights, build options): reused when unchanged. */
export function compileOpenCLCached(decode: Graph, opts: OpenCLCompileOptions & { cacheDir?: string } = {}): OpenCLCompileResult & { cached: boolean } {
  const mod = emitOpenCL(withDType(decode, opts.dtype), opts);
  const h = createHash('sha256');
  for (const [name, text] of [...mod.files].sort(([a], [b]) => a.localeCompare(b))) h.update(name).update('\0').update(text).update('\0');
  h.update(mod.weights.bytes);
  h.update(JSON.stringify(opts.build ?? {})).update(process.env.CC ?? '');
  const root = opts.cacheDir ?? cacheRoot();
  const dir = join(root, `opencl-${h.digest('hex').slice(0, 24)}`);
  const stamp = join(dir, '.built');
  if (existsSync(stamp) && existsSync(join(dir, 'ssmc_driver'))) return { dir, manifest: mod.manifest, driver: join(dir, 'ssmc_driver'), cached: true };
  mkdirSync(root, { recursive: true });
  writeOpenCLModule(mod, dir);
  const driver = buildOpenCLDriver(dir, opts.build || {});
  writeFileSync(stamp, 'ssmc_driver');
  return { dir, manifest: mod.manifest, driver, cached: false };
}

export function readOpenCLManifest(dir: string): OpenCLManifest {
  try {
    const m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as OpenCLManifest;
    if (m.format !== 'ssmc-opencl' || m.version !== 1) throw new Error(`unknown manifest format ${m.format} v${m.version}`);
    return m;
  } catch (e) {
    throw new SsmcError('E_IO', `not a compiled OpenCL model: ${(e as Error).message}`, { file: dir });
  }
}
