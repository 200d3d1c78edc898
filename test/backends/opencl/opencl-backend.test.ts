// The OpenCL backend on PoCL (a CPU OpenCL, installed by the setup script) against
// the interpreter: random small Mamba models and the trained fixture; all-buffer,
// weights as images, mixed kinds with explicit mem.* conversions; dense and C_n^4;
// f32 and f16 storage. Plus the clear error of a machine without OpenCL.
import fc from 'fast-check';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { InterpRunner } from '../../../src/backends/interp/runner.ts';
import { compileOpenCL } from '../../../src/backends/opencl/compile.ts';
import { emitOpenCL } from '../../../src/backends/opencl/emit.ts';
import { classifyOpenCLFailure, OpenCLUnavailableError } from '../../../src/backends/opencl/errors.ts';
import { buildOpenCLDriver } from '../../../src/backends/opencl/toolchain.ts';
import { OpenCLRunner } from '../../../src/backends/opencl/runner.ts';
import { loadCheckpoint } from '../../../src/frontend/load.ts';
import { buildMambaGraph } from '../../../src/frontend/mamba-graph.ts';
import type { Graph } from '../../../src/ir/graph.ts';
import { castWeights } from '../../../src/passes/cast-weights.ts';
import { PassManager } from '../../../src/passes/index.ts';
import { launchCount } from '../../../src/passes/layout/inspect.ts';
import type { ModelRunner } from '../../../src/runtime/runner.ts';
import { fixturesDir, seed } from '../../helpers/paths.ts';
import { arbConfig, randomCheckpoint } from '../../helpers/random-model.ts';
import { annotateCn4, differential, expectRejectsOutOfVocab, outDir } from '../c/helpers.ts';
import { annotateMemory, coin, convertWeights, insertConversions } from './helpers.ts';

const TOL = 1e-5;
const FIXTURE = join(fixturesDir(), 'mamba-shakespeare-s');
const open: ModelRunner[] = [];
afterAll(() => open.forEach((r) => r.close()));

function build(g: Graph, chunk = 4, epilogues = true): string {
  const dir = outDir('ocl');
  compileOpenCL(g, dir, { chunk, epilogues, build: { opt: '-O1' } });
  return dir;
}

function runner(dir: string, env?: NodeJS.ProcessEnv): OpenCLRunner {
  const r = new OpenCLRunner(dir, { env });
  open.push(r);
  return r;
}

type Layout = 'buffer' | 'image-weights' | 'mixed';

/** The memory kinds of a case: none, every weight an image, or a random mix with conversions. */
function layout(g: Graph, kind: Layout, s: number): { graph: Graph; conversions: number } {
  if (kind === 'buffer') return { graph: g, conversions: 0 };
  if (kind === 'image-weights') return { graph: annotateMemory(g, () => 'image2d', () => undefined), conversions: 0 };
  const w = coin(s);
  const v = coin(s + 1);
  return insertConversions(annotateMemory(g, () => (w() ? 'image2d' : 'buffer'), () => (v() ? 'image2d' : 'buffer')), s + 2);
}

const arbCase = fc
  .record({
    config: arbConfig,
    wseed: fc.integer({ min: 1, max: 1e6 }),
    sparsity: fc.constantFrom('dense', 'random', 0, 1, 2, 3, 4),
    half: fc.boolean(),
    fuse: fc.boolean(),
    layout: fc.constantFrom<Layout>('buffer', 'image-weights', 'mixed'),
    epilogues: fc.boolean(),
    len: fc.integer({ min: 2, max: 11 }),
  })
  .map(({ config, wseed, sparsity, half, fuse, layout: kind, epilogues, len }) => {
    let g = buildMambaGraph(randomCheckpoint(config, wseed), { mode: 'decode' });
    if (sparsity !== 'dense') g = annotateCn4(g, wseed, typeof sparsity === 'number' ? sparsity : undefined);
    if (half) g = castWeights(g, 'f16');
    const ref = g;
    if (fuse) g = new PassManager('fuse-ops').run(g).graph;
    const { graph, conversions } = layout(g, kind, wseed);
    const tokens = Int32Array.from({ length: len }, (_, i) => (wseed * 7 + i * 13) % config.vocabSize);
    return { graph, ref, tokens, conversions, kind, epilogues };
  });

describe('OpenCL backend on PoCL', () => {
  it('has an OpenCL platform (PoCL, installed by npm run setup)', () => {
    const r = spawnSync('clinfo', ['-l'], { encoding: 'utf8' });
    expect(r.status, 'clinfo missing: run npm run setup').toBe(0);
    expect(r.stdout, 'no OpenCL platform: run npm run setup (pocl-opencl-icd)').toMatch(/Platform #0/);
  });

  it('equals the interpreter on random models: buffers, image weights, mixed with mem.* conversions; dense and C_n^4; f32 and f16', () => {
    const seen = new Set<string>();
    fc.assert(
      fc.property(arbCase, ({ graph, ref, tokens, conversions, kind, epilogues }) => {
        const dir = build(graph, 4, epilogues);
        const c = runner(dir);
        expect(c.manifest.decodeConversions).toBeLessThanOrEqual(conversions);
        differential(c, new InterpRunner(ref), tokens, TOL);
        c.close();
        seen.add(kind);
      }),
      { seed, numRuns: 6 },
    );
    expect(seen.size).toBeGreaterThan(1);
  });

  it('equals the interpreter on the trained fixture: f32 buffers (fused), f16 weights as images, 2:4 C_n^4 mixed', () => {
    const g = buildMambaGraph(loadCheckpoint(FIXTURE), { mode: 'decode' });
    const tokens = Int32Array.from(new TextEncoder().encode('GREMIO:\nGood morrow, neighbour.\n'));
    const fused = new PassManager('fuse-ops').run(g).graph;
    differential(runner(build(fused, 16)), new InterpRunner(g), tokens, TOL);

    const g16 = castWeights(g, 'f16');
    const img = runner(build(annotateMemory(g16, () => 'image2d', () => undefined), 16));
    expect(img.manifest.imageWeights.length).toBe(g16.weights.length);
    differential(img, new InterpRunner(g16), tokens, TOL);

    const sparse = annotateCn4(g, 11, 2);
    const mixed = insertConversions(annotateMemory(new PassManager('fuse-ops').run(sparse).graph, (w) => (w.name.includes('in_proj') ? 'image2d' : undefined), () => undefined), 5);
    expect(mixed.conversions).toBeGreaterThan(0);
    const m = runner(build(mixed.graph, 16));
    expect(m.manifest.decodeConversions).toBe(mixed.conversions);
    differential(m, new InterpRunner(sparse), tokens, TOL);
  });

  it('equals the interpreter after the layout passes: fuse-ops,select-layout{device=D},materialize-layout', () => {
    fc.assert(
      fc.property(arbCase, fc.constantFrom('adreno', 'mali', 'generic'), ({ ref, tokens }, device) => {
        const g = new PassManager(`fuse-ops,select-layout{device=${device}},materialize-layout`).run(ref).graph;
        const c = runner(build(g));
        differential(c, new InterpRunner(ref), tokens, TOL);
        c.close();
      }),
      { seed, numRuns: 3 },
    );
  });

  it('converts a weight read through mem.to_image once, at upload (no kernel per token)', () => {
    const ck = randomCheckpoint({ dModel: 8, nLayer: 2, vocabSize: 9, dState: 3, dConv: 3, expand: 2, dInner: 16, dtRank: 2, normEps: 1e-5, tiedHead: true, convBias: true, projBias: true }, 21);
    const g = castWeights(annotateCn4(buildMambaGraph(ck, { mode: 'decode' }), 4), 'f16');
    const conv = convertWeights(g, ['l0.in_proj', 'l1.x_proj', 'embedding']);
    const c = runner(build(conv));
    expect(c.manifest.decodeConversions).toBe(0);
    expect(c.manifest.imageWeights).toEqual(expect.arrayContaining(['l0.in_proj.img', 'l1.x_proj.img', 'embedding.img']));
    differential(c, new InterpRunner(g), Int32Array.of(1, 5, 7, 2, 8, 3), TOL);
  });

  it('launches one kernel per IR kernel after fuse-ops (and materialize-layout), whatever the memory kinds and storage', () => {
    const g = buildMambaGraph(loadCheckpoint(FIXTURE), { mode: 'decode' });
    const nLayer = g.inputs.filter((v) => v.name.startsWith('conv.')).length;
    const ops = (x: Graph) => x.nodes.reduce((a, n) => a + (n.body ? n.body.nodes.length : 1), 0);
    const cases: Array<[string, Graph]> = [
      ['f32 buffers', new PassManager('fuse-ops').run(g).graph],
      ['f16 weights as images', new PassManager('fuse-ops').run(annotateMemory(castWeights(g, 'f16'), () => 'image2d', () => undefined)).graph],
      ['every value an image', new PassManager('fuse-ops').run(annotateMemory(g, () => 'image2d', () => 'image2d')).graph],
      ['2:4 C_n^4', new PassManager('fuse-ops').run(annotateCn4(g, 11, 2)).graph],
      ['2:4 C_n^4 f16 as compact images', new PassManager('fuse-ops').run(annotateMemory(castWeights(annotateCn4(g, 11, 2), 'f16'), () => 'image2d', () => undefined)).graph],
      ...(['adreno', 'mali', 'generic'] as const).map((d): [string, Graph] => [d, new PassManager(`fuse-ops,select-layout{device=${d}},materialize-layout`).run(g).graph]),
    ];
    for (const [what, x] of cases) {
      // The IR's count: one per top-level node (a fused group is one kernel), mem.* of weights done at upload.
      const weightConversions = x.nodes.filter((n) => n.op.startsWith('mem.') && x.weights.some((w) => w.name === n.inputs[0])).length;
      expect(emitOpenCL(x).manifest.decodeLaunches, what).toBe(launchCount(x) - weightConversions);
    }
    // 7 kernels per layer, plus embedding+norm and the final norm and head.
    expect(launchCount(cases[0][1])).toBe(7 * nLayer + 2);
    // Without fusion in the backend: one kernel per op, a split one per result.
    const plain = emitOpenCL(cases[0][1], { epilogues: false }).manifest.decodeLaunches;
    expect(plain).toBe(ops(cases[0][1]) + 3 * nLayer);
  });

  it('equals the interpreter when every intermediate value is an image (views at unaligned columns, inlined elementwise ops, C_n^4 table rows)', () => {
    const ck = randomCheckpoint({ dModel: 6, nLayer: 2, vocabSize: 11, dState: 3, dConv: 3, expand: 2, dInner: 12, dtRank: 3, normEps: 1e-5, tiedHead: true, convBias: true, projBias: true }, 5);
    const g = buildMambaGraph(ck, { mode: 'decode' });
    // Dense and C_n^4 (the embedding table too: read through a view of its rows), f32 and f16, matrices as images or buffers.
    for (const [half, sparse, images] of [[false, false, true], [true, false, true], [false, true, true], [true, true, false]] as const) {
      const ref = half ? castWeights(sparse ? annotateCn4(g, 3) : g, 'f16') : sparse ? annotateCn4(g, 3) : g;
      const fused = new PassManager('fuse-ops').run(ref).graph;
      const img = annotateMemory(fused, (w) => (images && w.type.shape.length === 2 ? 'image2d' : undefined), () => 'image2d');
      const c = runner(build(img));
      expect(c.manifest.decodeLaunches).toBe(launchCount(fused));
      differential(c, new InterpRunner(ref), Int32Array.of(1, 5, 7, 2, 8, 3, 10, 0), TOL);
      c.close();
    }
  });

  it('rejects tokens outside the vocabulary without touching the state', () => {
    expectRejectsOutOfVocab((g) => runner(build(g)), TOL);
  });
});

describe('OpenCL backend without OpenCL', () => {
  const g = buildMambaGraph(randomCheckpoint({ dModel: 4, nLayer: 1, vocabSize: 6, dState: 2, dConv: 2, expand: 1, dInner: 4, dtRank: 1, normEps: 1e-5, tiedHead: true, convBias: true, projBias: false }, 3), { mode: 'decode' });
  let dir: string | undefined;
  const folder = () => (dir ??= build(g));
  const noIcd = () => ({ ...process.env, OCL_ICD_VENDORS: mkdtempSync(join(tmpdir(), 'ssmc-no-icd-')) });

  it('a machine without a platform gets a typed error naming what is missing', () => {
    let err: unknown;
    try {
      runner(folder(), noIcd());
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(OpenCLUnavailableError);
    expect((err as OpenCLUnavailableError).missing).toBe('platform');
    expect((err as Error).message).toMatch(/no OpenCL platform.*ICD loader found no vendor driver/);
  });

  it('the driver prints a clean message and exits 1', () => {
    const r = spawnSync(join(folder(), 'ssmc_driver'), ['logits', '--tokens', '1,2', '--out', join(folder(), 'x.f32')], { encoding: 'utf8', env: noIcd() });
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toMatch(/^ssmc_driver: no OpenCL platform: /);
    expect(r.stderr.split('\n').filter(Boolean)).toHaveLength(1);
  });

  it('a program that does not build shows the build log', () => {
    const dir = outDir('ocl-broken');
    cpSync(folder(), dir, { recursive: true });
    const model = join(dir, 'model.c');
    writeFileSync(model, readFileSync(model, 'utf8').replace('const char ssmc_cl_source[] =\n', 'const char ssmc_cl_source[] =\n  "this is not OpenCL C;\\n"\n'));
    buildOpenCLDriver(dir, { opt: '-O0' });
    expect(() => runner(dir)).toThrow(/OpenCL program build failed on .*error/s);
  });

  it('names the missing header or loader from the compiler output', () => {
    expect(classifyOpenCLFailure("model.c:3:10: fatal error: CL/cl.h: No such file or directory")?.missing).toBe('headers');
    expect(classifyOpenCLFailure('/usr/bin/ld: cannot find -lOpenCL: No such file or directory')?.missing).toBe('loader');
    expect(classifyOpenCLFailure('./ssmc_driver: error while loading shared libraries: libOpenCL.so.1: cannot open shared object file')?.missing).toBe('loader');
    expect(classifyOpenCLFailure('undefined reference to `foo`')).toBeUndefined();
  });

  it('a device selection that matches nothing names the device', () => {
    expect(() => runner(folder(), { ...process.env, SSMC_OPENCL_DEVICE: 'no-such-device' })).toThrow(/no OpenCL device matches/);
  });
});
