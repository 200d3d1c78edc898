// Determinism (issue 6, robustness): the same inputs give byte-identical outputs. Each
// output is produced twice, into differently named places (so an embedded output or
// temporary path shows up as a difference), one of the two C compiles in a separate
// process (so per-process state such as Map insertion order across caches, random
// temporary names or the clock would show up too), and compared file by file.
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { packWeights } from '../../src/backends/packed/index.ts';
import type { MambaConfig } from '../../src/frontend/checkpoint.ts';
import { writeGgufMamba } from '../../src/frontend/gguf-mamba.ts';
import { writeHfFolder } from '../../src/frontend/hf-export.ts';
import { loadCheckpoint } from '../../src/frontend/load.ts';
import { buildMambaGraph } from '../../src/frontend/mamba-graph.ts';
import { PassManager } from '../../src/passes/index.ts';
import { runMainJob } from '../../src/report/main-job.ts';
import type { MainJobReport } from '../../src/report/main-job.ts';
import { renderMarkdown } from '../../src/report/render.ts';
import { runBin, runCli } from '../helpers/cli.ts';
import { fixtureNames, fixturesDir } from '../helpers/paths.ts';
import { randomCheckpoint } from '../helpers/random-model.ts';

const root = mkdtempSync(join(tmpdir(), 'ssmc-determinism-'));
const config: MambaConfig = { dModel: 8, nLayer: 2, vocabSize: 256, dState: 4, dConv: 3, expand: 2, dInner: 16, dtRank: 4, normEps: 1e-5, tiedHead: true, convBias: true, projBias: false };
const model = join(root, 'model');
writeHfFolder(randomCheckpoint(config, 21), model);
const gguf = join(root, 'model.gguf');
writeGgufMamba(randomCheckpoint(config, 21), gguf, { fileType: 'f32' });
const fixture = join(fixturesDir(), fixtureNames()[0]);
// Calibration text from the trained fixture's own (the pruning statistics depend on it).
const calib = join(fixture, 'calib.txt');

/** sha-256 of every file under `path` (or of the file itself), by relative path. */
function hashes(path: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (p: string, rel: string) => {
    if (statSync(p).isDirectory()) for (const f of readdirSync(p).sort()) walk(join(p, f), rel ? `${rel}/${f}` : f);
    else out[rel || '.'] = createHash('sha256').update(readFileSync(p)).digest('hex');
  };
  walk(path, '');
  return out;
}

async function ok(args: string[]): Promise<void> {
  const r = await runCli(args);
  expect(r.code, `ssmc ${args.join(' ')}\n${r.stderr}`).toBe(0);
}

describe('byte-identical outputs', () => {
  it('compile --target c: the built folder (sources, weights.bin, the driver binary), in-process and in a child process', async () => {
    const a = join(root, 'c-first');
    const b = join(root, 'another-name-c');
    const args = ['--target', 'c', '--n', '2', '--method', 'magnitude', '--dtype', 'f16'];
    await ok(['compile', model, ...args, '-o', a]);
    const r = runBin(['compile', model, ...args, '-o', b]);
    expect(r.code, r.stderr).toBe(0);
    const ha = hashes(a);
    expect(Object.keys(ha)).toContain('ssmc_driver');
    expect(Object.keys(ha)).toContain('weights.bin');
    expect(hashes(b)).toEqual(ha);
  });

  it('compile --target opencl for every device table, dense and pruned (layout choices included)', async () => {
    for (const device of ['adreno', 'mali', 'generic']) {
      for (const prune of [[], ['--sparsity', '0.5', '--method', 'wanda', '--calib', calib, '--calib-tokens', '512']]) {
        const dirs = [join(root, `cl-${device}-${prune.length}-a`), join(root, `cl-${device}-${prune.length}-bb`)];
        for (const d of dirs) await ok(['compile', gguf, '--target', 'opencl', '--device', device, '--no-build', ...prune, '-o', d]);
        const ha = hashes(dirs[0]);
        expect(Object.keys(ha)).toContain('weights.bin');
        expect(hashes(dirs[1]), `${device} ${prune.join(' ')}`).toEqual(ha);
      }
    }
  });

  it('packed weights of the same model imported from safetensors and from GGUF, pruned the same way', () => {
    const pipeline = 'sparsify-cn4{method=magnitude pattern=uniform n=2},cast-weights{dtype=f16 which=matrices}';
    const packed = [model, gguf].map((p) => {
      const g = new PassManager(pipeline).run(buildMambaGraph(loadCheckpoint(p))).graph;
      return createHash('sha256').update(packWeights(g, { tileRows: 4 }).bytes).digest('hex');
    });
    expect(packed[1]).toBe(packed[0]);
  });

  it('prune: safetensors folder + sparsity.json and GGUF + sidecar, with calibration statistics (obs, adaptive)', async () => {
    const args = ['--sparsity', '0.5', '--method', 'obs', '--calib', calib, '--calib-tokens', '1024'];
    const st = [join(root, 'pruned-a'), join(root, 'pruned-second')];
    for (const d of st) await ok(['prune', model, ...args, '-o', d]);
    const h = hashes(st[0]);
    expect(Object.keys(h)).toEqual(expect.arrayContaining(['config.json', 'model.safetensors', 'sparsity.json']));
    expect(hashes(st[1])).toEqual(h);
    for (const name of ['g1', 'g2']) {
      mkdirSync(join(root, name));
      await ok(['prune', model, ...args, '--format', 'gguf', '-o', join(root, name, 'p.gguf')]);
    }
    const g1 = hashes(join(root, 'g1'));
    expect(Object.keys(g1)).toEqual(expect.arrayContaining(['p.gguf', 'p.sparsity.json']));
    expect(hashes(join(root, 'g2'))).toEqual(g1);
  });

  it('ir (text, and the DOT and SVG pictures of a fused, pruned graph) and logits', async () => {
    for (const n of ['1', '2']) {
      await ok(['ir', gguf, '--mode', 'prefill', '--seq-len', '8', '-o', join(root, `p${n}.ir`)]);
      for (const format of ['dot', 'svg']) await ok(['ir', model, '--pipeline', 'sparsify-cn4{method=magnitude n=2},fuse-ops', '--format', format, '-o', join(root, `g${n}.${format}`)]);
      await ok(['logits', model, '--tokens', '1,2,3,250', '--n', '2', '--method', 'magnitude', '--out', join(root, `l${n}.f32`)]);
    }
    expect(hashes(join(root, 'p2.ir'))).toEqual(hashes(join(root, 'p1.ir')));
    expect(hashes(join(root, 'g2.dot'))).toEqual(hashes(join(root, 'g1.dot')));
    expect(hashes(join(root, 'g2.svg'))).toEqual(hashes(join(root, 'g1.svg')));
    expect(hashes(join(root, 'l2.f32'))).toEqual(hashes(join(root, 'l1.f32')));
  });

  it('the main job report (report.json and report.md) apart from its timing fields', () => {
    // A small model folder as the main job expects it: weights, calib.txt, heldout.txt.
    const job = join(root, 'job-model');
    writeHfFolder(randomCheckpoint({ ...config, nLayer: 1 }, 22), job);
    const fixtureText = readFileSync(join(fixture, 'heldout.txt'));
    writeFileSync(join(job, 'calib.txt'), readFileSync(calib).subarray(0, 1024));
    writeFileSync(join(job, 'heldout.txt'), fixtureText.subarray(0, 700));
    const run = () => runMainJob({ model: job, calibTokens: 1024, generateTokens: 32, prompt: 'ROMEO:\n', seed: 3 }).report;
    // Wall-clock measurements are the only fields allowed to differ between runs.
    const untimed = (r: MainJobReport): MainJobReport => ({
      ...r,
      prune_seconds: 0,
      dense: { ...r.dense, decode_tokens_per_s: 0, prefill_tokens_per_s: 0 },
      sparse: { ...r.sparse, decode_tokens_per_s: 0, prefill_tokens_per_s: 0 },
    });
    const [a, b] = [untimed(run()), untimed(run())];
    expect(JSON.stringify(b, null, 2)).toBe(JSON.stringify(a, null, 2));
    expect(renderMarkdown(b, 'test machine')).toBe(renderMarkdown(a, 'test machine'));
    expect(a.sparsity).not.toBeNull(); // the report really carries the pruning results compared above
  });
});
