// The OpenCL backend from the command line: `ssmc compile --target opencl`, and
// `--backend opencl` for eval against the interpreter (through the build cache).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InterpRunner } from '../../../src/backends/interp/runner.ts';
import { loadCheckpoint } from '../../../src/frontend/load.ts';
import { buildMambaGraph } from '../../../src/frontend/mamba-graph.ts';
import { findPass } from '../../../src/passes/index.ts';
import { runCli } from '../../helpers/cli.ts';
import { fixturesDir } from '../../helpers/paths.ts';
import { expectEvalMatchesInterpreter, outDir, relErr } from '../c/helpers.ts';

const FIXTURE = join(fixturesDir(), 'mamba-shakespeare-s');
// --backend opencl compiles into the cache: keep it inside this run's temp folder.
process.env.SSMC_CACHE = outDir('ocl-cache-root');

describe('ssmc compile --target opencl', () => {
  it('writes and builds a folder whose driver equals the interpreter', async () => {
    const dir = outDir('ocl-cli');
    const r = await runCli(['compile', FIXTURE, '--target', 'opencl', '--device', 'adreno', '--chunk', '8', '-o', dir]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    if (!findPass('select-layout')) expect(r.stdout).toMatch(/select-layout \/ materialize-layout are not available: compiled with every tensor in buffers/);
    expect(r.stdout).toMatch(/kernel launches and \d+ conversions per token/);
    for (const f of ['kernels.cl', 'model.c', 'model.h', 'ssmc_runtime.c', 'ssmc_runtime.h', 'ssmc_driver.c', 'Makefile', 'README.md', 'manifest.json', 'weights.bin', 'ssmc_driver']) {
      expect(existsSync(join(dir, f)), f).toBe(true);
    }
    const out = join(dir, 'l.f32');
    const tokens = [71, 82, 69, 77];
    const d = spawnSync(join(dir, 'ssmc_driver'), ['logits', '--tokens', tokens.join(','), '--out', out], { encoding: 'utf8' });
    expect(d.stderr).toBe('');
    expect(d.status).toBe(0);
    const got = new Float32Array(readFileSync(out).buffer.slice(0));
    const ref = new InterpRunner(buildMambaGraph(loadCheckpoint(FIXTURE), { mode: 'decode' }));
    tokens.forEach((t, i) => expect(relErr(got.subarray(i * 256, (i + 1) * 256), ref.step(t))).toBeLessThan(1e-5));
  });
});

describe('--backend opencl', () => {
  it('ssmc eval --backend opencl matches --backend interp on the fixture (bits per byte within 1e-5)', async () => {
    await expectEvalMatchesInterpreter('opencl', FIXTURE, 2048);
  });
});
