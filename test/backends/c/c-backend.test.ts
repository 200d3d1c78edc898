// The C backend against the interpreter: random small Mamba models (dense, every
// C_n^4 n, f32 and f16, fused and not) and the trained fixture, native through SIMDe,
// plain C, a real aarch64 build under qemu-user, and with ASan + UBSan.
import fc from 'fast-check';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { InterpRunner } from '../../../src/backends/interp/runner.ts';
import { compileC } from '../../../src/backends/c/compile.ts';
import { castWeights } from '../../../src/passes/cast-weights.ts';
import { CRunner } from '../../../src/backends/c/runner.ts';
import type { BuildOptions } from '../../../src/backends/c/toolchain.ts';
import { toolExists } from '../../../src/backends/c/toolchain.ts';
import { loadCheckpoint } from '../../../src/frontend/load.ts';
import { buildMambaGraph } from '../../../src/frontend/mamba-graph.ts';
import { GraphBuilder } from '../../../src/ir/builder.ts';
import type { Graph } from '../../../src/ir/graph.ts';
import { tensorType } from '../../../src/ir/types.ts';
import { PassManager } from '../../../src/passes/index.ts';
import type { ModelRunner } from '../../../src/runtime/runner.ts';
import { fixturesDir, seed } from '../../helpers/paths.ts';
import { arbConfig, randomCheckpoint } from '../../helpers/random-model.ts';
import { annotateCn4, differential, expectRejectsOutOfVocab, outDir, QEMU, relErr } from './helpers.ts';

const F32_TOL = 1e-5;
const FIXTURE = join(fixturesDir(), 'mamba-shakespeare-s');
// d_model 150 (37 groups + 2 tail columns) and d_inner 300 (75 groups): for n = 2 two
// chunks of 32 groups and one of 11 (an odd group left for the masked half step), for
// n = 1 and 3 one chunk of 64 and one of 11 (3 groups past the 4-group steps).
const CHUNKED = { dModel: 150, nLayer: 1, vocabSize: 11, dState: 3, dConv: 3, expand: 2, dInner: 300, dtRank: 5, tiedHead: false, convBias: true, projBias: true, normEps: 1e-5 };
const open: ModelRunner[] = [];
afterAll(() => open.forEach((r) => r.close()));

function build(g: Graph, build: BuildOptions, chunk = 4): string {
  const dir = outDir('m');
  compileC(g, dir, { chunk, build: { opt: '-O1', ...build } });
  return dir;
}

function runner(dir: string, build: BuildOptions = {}, threads?: number): CRunner {
  const r = new CRunner(dir, { exec: build.arch === 'aarch64' ? QEMU : undefined, driver: join(dir, build.output ?? 'ssmc_driver'), threads });
  open.push(r);
  return r;
}

interface Case {
  graph: Graph;
  ref: Graph;
  tokens: Int32Array;
}

const arbCase: fc.Arbitrary<Case> = fc
  .record({
    config: arbConfig,
    wseed: fc.integer({ min: 1, max: 1e6 }),
    sparsity: fc.constantFrom('dense', 'random', 0, 1, 2, 3, 4),
    half: fc.boolean(),
    fuse: fc.boolean(),
    len: fc.integer({ min: 2, max: 13 }),
  })
  .map(({ config, wseed, sparsity, half, fuse, len }) => {
    let g = buildMambaGraph(randomCheckpoint(config, wseed), { mode: 'decode' });
    if (sparsity !== 'dense') g = annotateCn4(g, wseed, typeof sparsity === 'number' ? sparsity : undefined);
    if (half) g = castWeights(g, 'f16');
    const ref = g;
    if (fuse) g = new PassManager('fuse-ops').run(g).graph;
    const tokens = Int32Array.from({ length: len }, (_, i) => (wseed * 7 + i * 13) % config.vocabSize);
    return { graph: g, ref, tokens };
  });

describe('C backend (native, NEON through SIMDe)', () => {
  it('equals the interpreter on random models: dense and C_n^4, f32 and f16 weights, fused or not', () => {
    fc.assert(
      fc.property(arbCase, ({ graph, ref, tokens }) => {
        const c = runner(build(graph, {}));
        differential(c, new InterpRunner(ref), tokens, F32_TOL);
        c.close();
      }),
      { seed, numRuns: 8 },
    );
  });

  it('equals the interpreter on the plain C path, with 2 threads', () => {
    fc.assert(
      fc.property(arbCase, ({ graph, ref, tokens }) => {
        const c = runner(build(graph, { simd: 'plain' }), {}, 2);
        differential(c, new InterpRunner(ref), tokens, F32_TOL);
        c.close();
      }),
      { seed, numRuns: 2 },
    );
  });

  it('equals the interpreter on the trained fixture (f32 within 1e-5; f16 within 1e-5 of f16-rounded weights)', () => {
    const ck = loadCheckpoint(FIXTURE);
    const g = buildMambaGraph(ck, { mode: 'decode' });
    const tokens = Int32Array.from(new TextEncoder().encode('GREMIO:\nGood morrow, neighbour Baptista.\n'));
    const f32 = runner(build(new PassManager('fuse-ops').run(g).graph, {}, 16), {}, 2);
    differential(f32, new InterpRunner(g), tokens, F32_TOL);
    const g16 = castWeights(g, 'f16');
    // On x86 with F16C the f16 loads take the _mm_cvtph_ps path (SIMDe's is per lane).
    const f16c = process.arch === 'x64' && /\bf16c\b/.test(readFileSync('/proc/cpuinfo', 'utf8'));
    const f16 = runner(build(g16, { cflags: f16c ? ['-mf16c'] : [] }, 16));
    differential(f16, new InterpRunner(g16), tokens, F32_TOL);
    // The f16 bound against the f32 model (what storage in f16 costs).
    f16.reset();
    f32.reset();
    expect(relErr(f16.prefill(tokens), f32.prefill(tokens))).toBeLessThan(2e-2);
  });

  // Host builds take -march=native: on this kind of machine the runs above exercise the
  // AVX-512 kernels; these take the AVX2 + F16C kernels and the NEON code through SIMDe.
  it.runIf(process.arch === 'x64')('equals the interpreter with the AVX2 + F16C kernels and NEON through SIMDe (x86)', () => {
    for (const cflags of [['-mno-avx512f'], ['-DSSMC_NO_X86']]) {
      fc.assert(
        fc.property(arbCase, ({ graph, ref, tokens }) => {
          const c = runner(build(graph, { cflags }));
          differential(c, new InterpRunner(ref), tokens, F32_TOL);
          c.close();
        }),
        { seed, numRuns: 3 },
      );
    }
    // d_state 16: the vector exp of the scan at 8 lanes.
    const g = buildMambaGraph(loadCheckpoint(FIXTURE), { mode: 'decode' });
    const avx2 = runner(build(g, { cflags: ['-mno-avx512f'] }, 16));
    differential(avx2, new InterpRunner(g), Int32Array.from(new TextEncoder().encode('KATHARINA:\nA pretty peat!')), F32_TOL);
  });

  it('equals the interpreter on the fixture with C_n^4 weights of every n (rows of 128 and 256: the kernels\' multi-group steps)', () => {
    const g = annotateCn4(buildMambaGraph(loadCheckpoint(FIXTURE), { mode: 'decode' }), 11);
    const text = 'LUCENTIO:\nTranio, I saw her coral lips. TRANIO:\nNay, then, \'tis time to stir him from his trance.';
    // Chunks of 16 and 72 tokens: the prefill kernels on x transposed take whole vectors
    // of tokens (16 on AVX-512), blocks of 4 vectors and a partial last vector.
    for (const graph of [g, castWeights(g, 'f16')]) {
      for (const [chunk, len] of [[16, 41], [72, text.length]] as const) {
        const c = runner(build(graph, {}, chunk));
        differential(c, new InterpRunner(graph), Int32Array.from(new TextEncoder().encode(text.slice(0, len))), F32_TOL);
        c.close();
      }
    }
  });

  it('equals the interpreter with tiles of several chunks and a partial last chunk, every n, rows grouped by n', () => {
    // CHUNKED's tiles span several chunks. After reorder-weights the rows of each n are
    // whole tiles of 4, so decode takes the AVX-512, AVX2 and (through SIMDe) the NEON
    // tile kernels, not the scalar reference.
    const base = buildMambaGraph(randomCheckpoint(CHUNKED, 5), { mode: 'decode' });
    const tokens = Int32Array.from([3, 7, 1, 10, 0, 4, 9, 2, 8, 5, 6, 3, 1, 7, 2, 9, 4, 0, 10]);
    for (const n of [1, 2, 3, undefined]) {
      const pruned = new PassManager('reorder-weights').run(annotateCn4(base, 17 + (n ?? 9), n)).graph;
      for (const graph of [pruned, castWeights(pruned, 'f16')]) {
        for (const cflags of [[], ['-mno-avx512f'], ['-DSSMC_NO_X86']]) {
          const c = runner(build(graph, { cflags }, 16));
          differential(c, new InterpRunner(graph), tokens, F32_TOL);
          c.close();
        }
      }
    }
  });

  it('rejects tokens outside the vocabulary without touching the state', () => {
    expectRejectsOutOfVocab((g) => runner(build(g, {})), F32_TOL);
  });
});

describe('C backend (aarch64 build under qemu-user)', () => {
  it('has the cross toolchain and qemu (installed by npm run setup)', () => {
    expect(toolExists('aarch64-linux-gnu-gcc'), 'aarch64-linux-gnu-gcc missing: run npm run setup').toBe(true);
    expect(spawnSync(QEMU[0], ['--version']).status, `${QEMU[0]} missing: run npm run setup`).toBe(0);
  });

  it('equals the interpreter on the fixture (fused, 2 threads)', () => {
    const g = buildMambaGraph(loadCheckpoint(FIXTURE), { mode: 'decode' });
    const arm = { arch: 'aarch64', output: 'ssmc_driver.aarch64' } as const;
    const c = runner(build(new PassManager('fuse-ops').run(g).graph, arm, 8), arm, 2);
    differential(c, new InterpRunner(g), Int32Array.from(new TextEncoder().encode('BAPTISTA:\nGood morrow.')), F32_TOL);
  });

  // The Android NDK compiles with clang: the NEON kernels built by clang for aarch64 (the
  // GNU sysroot standing in for the NDK's, which cannot be installed here), f32 and f16,
  // every n, on tiles of one chunk (the fixture) and of several.
  it('built by clang (the NDK\'s compiler) equals the interpreter on C_n^4 weights of every n, f32 and f16', () => {
    expect(toolExists('clang'), 'clang missing: run npm run setup').toBe(true);
    const arm = { arch: 'aarch64', cc: 'clang --target=aarch64-linux-gnu', cflags: ['-Werror'], output: 'ssmc_driver.clang' } as const;
    const fixture = annotateCn4(buildMambaGraph(loadCheckpoint(FIXTURE), { mode: 'decode' }), 23);
    const chunks = new PassManager('reorder-weights').run(annotateCn4(buildMambaGraph(randomCheckpoint(CHUNKED, 6), { mode: 'decode' }), 29)).graph;
    const cases: Array<[Graph, Int32Array]> = [
      [fixture, Int32Array.from(new TextEncoder().encode('PETRUCHIO:\nI say it is the moon.'))],
      [chunks, Int32Array.from([3, 7, 1, 10, 0, 4, 9, 2, 8, 5, 6, 3, 1, 7, 2, 9, 4, 0])],
    ];
    for (const [g, tokens] of cases) {
      for (const graph of [g, castWeights(g, 'f16')]) {
        const c = runner(build(graph, arm, 16), arm);
        differential(c, new InterpRunner(graph), tokens, F32_TOL);
        c.close();
      }
    }
  });

  it('equals the interpreter on random models', () => {
    fc.assert(
      fc.property(arbCase, ({ graph, ref, tokens }) => {
        const arm = { arch: 'aarch64', output: 'ssmc_driver.aarch64' } as const;
        const c = runner(build(graph, arm), arm);
        differential(c, new InterpRunner(ref), tokens, F32_TOL);
        c.close();
      }),
      { seed, numRuns: 3 },
    );
  });
});

describe('C backend under AddressSanitizer + UndefinedBehaviorSanitizer', () => {
  it('runs clean on random models (C_n^4 and dense)', () => {
    fc.assert(
      fc.property(arbCase, ({ graph, ref, tokens }) => {
        const san = { sanitize: true, opt: '-O0', output: 'ssmc_driver.asan' } as const;
        const dir = outDir('asan');
        compileC(graph, dir, { chunk: 4, build: san });
        const c = runner(dir, san, 2);
        differential(c, new InterpRunner(ref), tokens, F32_TOL);
        c.close(); // a sanitizer report kills the driver: the runner would have thrown
      }),
      { seed, numRuns: 2 },
    );
  });
});

describe('C backend on hand-built graphs', () => {
  it('tensor.gather (attribute and i32 weight indices) and elementwise broadcast', () => {
    const d = 6;
    const b = new GraphBuilder('gather_test');
    const tok = b.input('token', tensorType('i32', []));
    const conv = b.input('conv.0', tensorType('f32', [d]));
    const ssm = b.input('ssm.0', tensorType('f32', [d]));
    const E2 = b.weight('E2', tensorType('f32', [d]), Float32Array.from({ length: d }, (_, i) => i / 7));
    const E = b.weight('E', tensorType('f32', [5, d]), Float32Array.from({ length: 5 * d }, (_, i) => Math.sin(i)));
    const idx = b.weight('idx', tensorType('i32', [4]), Int32Array.of(5, 0, 3, 3));
    const W = b.weight('W', tensorType('f32', [5, 4]), Float32Array.from({ length: 20 }, (_, i) => Math.cos(i)));
    const h = b.op1('nn.embedding', [E, tok], {}, 'h');
    const hg = b.op1('tensor.gather', [h], { indices: [5, 4, 3, 2, 1, 0] }, 'hg');
    const s2 = b.op1('ew.add', [hg, conv], {}, 's2');
    const m2 = b.op1('ew.mul', [s2, ssm], {}, 'm2');
    const y = b.op1('tensor.gather', [m2, idx], {}, 'y');
    const logits = b.op1('nn.linear', [y, W], {}, 'logits');
    // Next state from state alone (anything mixing in the token would be per token).
    const cn = b.op1('ew.sub', [conv, E2], {}, 'conv.0.next');
    const sn = b.op1('ew.neg', [ssm], {}, 'ssm.0.next');
    b.output(logits, cn, sn);
    const g = b.build();
    const c = runner(build(g, {}, 3));
    const ref = new InterpRunner(g);
    const tokens = Int32Array.of(1, 4, 0, 2, 3, 3, 1);
    for (const t of tokens.subarray(0, 3)) expect(relErr(c.step(t), ref.step(t))).toBeLessThanOrEqual(F32_TOL);
    expect(relErr(c.prefill(tokens), ref.prefill(tokens))).toBeLessThanOrEqual(F32_TOL);
  });
});
