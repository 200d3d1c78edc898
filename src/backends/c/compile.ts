// Emitting, writing and building a C model folder; a content-keyed build cache for
// runners that compile on demand.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Graph } from '../../ir/graph.ts';
import { castWeights } from '../../passes/cast-weights.ts';
import type { CEmitOptions, CManifest, CModule } from './emit.ts';
import { emitC } from './emit.ts';
import type { BuildOptions } from './toolchain.ts';
import { buildDriver } from './toolchain.ts';
import { writeEmittedFolder } from '../write-module.ts';

export type WeightDType = 'f32' | 'f16';

export interface CCompileOptions extends CEmitOptions {
  /**
   * Shorthand for the cast-weights pass before emitting: f16 = `cast-weights{dtype=f16}`
   * (the linear and embedding matrices), f32 = `cast-weights{dtype=f32 which=all}`.
   * Default: every weight as the graph stores it (the way to choose is the pipeline).
   */
  readonly dtype?: WeightDType;
  /** Build the driver after writing (default: yes, with default BuildOptions). */
  readonly build?: BuildOptions | false;
}

export interface CCompileResult {
  readonly dir: string;
  readonly manifest: CManifest;
  /** Path of the built driver, when built. */
  readonly driver?: string;
}

function withDType(g: Graph, dtype: WeightDType | undefined): Graph {
  return dtype === undefined ? g : castWeights(g, dtype, dtype === 'f16' ? 'matrices' : 'all');
}

/** Writes an emitted module into `dir` atomically. */
export function writeCModule(mod: CModule, dir: string): void {
  writeEmittedFolder(mod, dir);
}

/** Emits, writes and (unless `build: false`) builds a decode graph as a C folder. */
export function compileC(decode: Graph, dir: string, opts: CCompileOptions = {}): CCompileResult {
  const mod = emitC(withDType(decode, opts.dtype), opts);
  writeCModule(mod, dir);
  if (opts.build === false) return { dir, manifest: mod.manifest };
  return { dir, manifest: mod.manifest, driver: buildDriver(dir, opts.build ?? {}) };
}

/** Where compiled models are cached: $SSMC_CACHE, else ~/.cache/ssmc, else the temp folder. */
export function cacheRoot(): string {
  if (process.env.SSMC_CACHE) return process.env.SSMC_CACHE;
  const home = homedir();
  return home ? join(home, '.cache', 'ssmc') : join(tmpdir(), 'ssmc-cache');
}

/**
 * compileC into `<cache>/c-<hash>`, where the hash covers the generated sources, the
 * weight bytes and the build options: a second call with the same inputs reuses it.
 */
export function compileCached(decode: Graph, opts: CCompileOptions & { cacheDir?: string } = {}): CCompileResult & { cached: boolean } {
  const mod = emitC(withDType(decode, opts.dtype), opts);
  const h = createHash('sha256');
  for (const [name, text] of [...mod.files].sort(([a], [b]) => a.localeCompare(b))) h.update(name).update('\0').update(text).update('\0');
  h.update(mod.weights.bytes);
  h.update(JSON.stringify(opts.build ?? {}));
  h.update(process.env.CC ?? '').update(process.env.CROSS_CC ?? '');
  const dir = join(opts.cacheDir ?? cacheRoot(), `c-${h.digest('hex').slice(0, 24)}`);
  const stamp = join(dir, '.built');
  const output = opts.build ? (opts.build.output ?? 'ssmc_driver') : 'ssmc_driver';
  if (existsSync(stamp) && readFileSync(stamp, 'utf8') === output && existsSync(join(dir, output))) {
    return { dir, manifest: mod.manifest, driver: join(dir, output), cached: true };
  }
  mkdirSync(opts.cacheDir ?? cacheRoot(), { recursive: true });
  writeCModule(mod, dir);
  const driver = buildDriver(dir, opts.build || {});
  writeFileSync(stamp, output);
  return { dir, manifest: mod.manifest, driver, cached: false };
}
