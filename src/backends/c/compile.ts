// Emitting, writing and building a C model folder; a content-keyed build cache for
// runners that compile on demand.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { SsmcError } from '../../errors.ts';
import type { Graph, Region, Value } from '../../ir/graph.ts';
import { makeGraph } from '../../ir/graph.ts';
import type { TensorType } from '../../ir/types.ts';
import type { WeightArray } from '../../ir/weights.ts';
import { tempSibling } from '../../util/atomic-write.ts';
import { encodeF16Array } from '../../util/half.ts';
import type { CEmitOptions, CManifest, CModule } from './emit.ts';
import { emitC } from './emit.ts';
import { weightF32, writeWeightsFile } from './pack.ts';
import type { BuildOptions } from './toolchain.ts';
import { buildDriver } from './toolchain.ts';

export type WeightDType = 'f32' | 'f16';

export interface CCompileOptions extends CEmitOptions {
  /**
   * Storage dtype of the linear and embedding matrices (f16: converted with round to
   * nearest even; f32: every float weight widened). Default: as stored.
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

/**
 * The graph with its weight storage converted: f16 for the matrices of nn.linear and
 * nn.embedding (the weights the kernels stream), f32 for every float weight.
 */
export function castWeights(graph: Graph, dtype: WeightDType): Graph {
  const decls = new Map(graph.weights.map((w) => [w.name, w]));
  const target = new Set<string>();
  const visit = (r: Region, bind: ReadonlyMap<string, string>) => {
    for (const n of r.nodes) {
      const ins = n.inputs.map((x) => bind.get(x) ?? x);
      ins.forEach((x, i) => {
        const w = decls.get(x);
        if (!w || w.type.dtype === 'i32') return;
        if (dtype === 'f32' || (n.op === 'nn.linear' && i === 1) || (n.op === 'nn.embedding' && i === 0)) target.add(x);
      });
      if (n.body) visit(n.body, new Map([...bind, ...n.body.inputs.map((p, i): [string, string] => [p.name, ins[i]])]));
    }
  };
  visit(graph, new Map());
  let store = graph.weightData;
  const newType = new Map<string, TensorType>();
  for (const name of target) {
    const w = decls.get(name)!;
    if (w.type.dtype === dtype) continue;
    const f = weightF32(graph.weightData.get(name), w.type.dtype);
    const data: WeightArray = dtype === 'f16' ? encodeF16Array(f) : f;
    store = store.with(name, data);
    newType.set(name, { ...w.type, dtype });
  }
  if (newType.size === 0) return graph;
  const retype = (v: Value): Value => (newType.has(v.name) ? { name: v.name, type: newType.get(v.name)! } : v);
  const fixRegion = (r: Region, bind: ReadonlyMap<string, string>): Region => ({
    ...r,
    nodes: r.nodes.map((n) => {
      if (!n.body) return n;
      const ins = n.inputs.map((x) => bind.get(x) ?? x);
      const inner = new Map([...bind, ...n.body.inputs.map((p, i): [string, string] => [p.name, ins[i]])]);
      const params = n.body.inputs.map((p, i) => (newType.has(ins[i]) ? { name: p.name, type: { ...p.type, dtype } } : p));
      return { ...n, body: { ...fixRegion(n.body, inner), inputs: params } };
    }),
  });
  const fixed = fixRegion(graph, new Map());
  return makeGraph({ ...graph, nodes: fixed.nodes, weights: graph.weights.map(retype), weightData: store });
}

/** Writes an emitted module into `dir` atomically (a sibling temporary, then a rename). */
export function writeCModule(mod: CModule, dir: string): void {
  const tmp = tempSibling(dir);
  mkdirSync(tmp, { recursive: true });
  try {
    for (const [name, text] of mod.files) writeFileSync(join(tmp, name), text);
    writeWeightsFile(join(tmp, 'weights.bin'), mod.weights);
    if (existsSync(dir)) {
      const old = tempSibling(dir);
      renameSync(dir, old);
      renameSync(tmp, dir);
      rmSync(old, { recursive: true, force: true });
    } else renameSync(tmp, dir);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    if (e instanceof SsmcError) throw e;
    throw new SsmcError('E_IO', `cannot write: ${(e as Error).message}`, { file: dir }, { cause: e });
  }
}

/** Emits, writes and (unless `build: false`) builds a decode graph as a C folder. */
export function compileC(decode: Graph, dir: string, opts: CCompileOptions = {}): CCompileResult {
  const g = opts.dtype ? castWeights(decode, opts.dtype) : decode;
  const mod = emitC(g, opts);
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
  const g = opts.dtype ? castWeights(decode, opts.dtype) : decode;
  const mod = emitC(g, opts);
  const h = createHash('sha256');
  for (const [name, text] of [...mod.files].sort(([a], [b]) => a.localeCompare(b))) h.update(name).update('\0').update(text).update('\0');
  for (const t of mod.weights.tensors) {
    const a = g.weightData.get(t.name);
    h.update(t.name).update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  }
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
