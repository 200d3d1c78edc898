// C_n^4 weights in both memory kinds on PoCL: the compact image form (kept values in
// texels, codes in a buffer; src/backends/opencl/cn4-image.ts) and the packed buffer,
// at every n and in adaptive mixes, f32 and f16, with matvecs reduced by one work item
// or by a work-group — each against the interpreter. Plus the layout arithmetic of the
// compact image (the spec's worked example) and the bytes a decode step reads.
import { afterAll, describe, expect, it } from 'vitest';
import { InterpRunner } from '../../../src/backends/interp/runner.ts';
import { cn4ImageBytes, cn4ImageLayout } from '../../../src/backends/opencl/cn4-image.ts';
import { compileOpenCL } from '../../../src/backends/opencl/compile.ts';
import { emitOpenCL } from '../../../src/backends/opencl/emit.ts';
import { OpenCLRunner } from '../../../src/backends/opencl/runner.ts';
import { matvecGroup } from '../../../src/backends/opencl/rules.ts';
import { buildMambaGraph } from '../../../src/frontend/mamba-graph.ts';
import type { Graph } from '../../../src/ir/graph.ts';
import { makeGraph } from '../../../src/ir/graph.ts';
import { castWeights } from '../../../src/passes/cast-weights.ts';
import { PassManager } from '../../../src/passes/index.ts';
import type { PackedTensorInfo } from '../../../src/backends/packed/index.ts';
import { join } from 'node:path';
import { loadCheckpoint } from '../../../src/frontend/load.ts';
import { fixturesDir } from '../../helpers/paths.ts';
import { randomCheckpoint } from '../../helpers/random-model.ts';
import { annotateCn4, differential, outDir } from '../c/helpers.ts';
import { annotateMemory } from './helpers.ts';

const TOL = 1e-5;
const open: OpenCLRunner[] = [];
afterAll(() => open.forEach((r) => r.close()));

// Reductions of 12 and 24 columns (3 and 6 groups: odd, not a multiple of 4), a
// dt_proj of 3 columns (tail only) and x_proj rows that are not a multiple of 4.
const CONFIG = { dModel: 12, nLayer: 2, vocabSize: 11, dState: 3, dConv: 3, expand: 2, dInner: 24, dtRank: 3, normEps: 1e-5, tiedHead: true, convBias: true, projBias: true };

/**
 * Every combination in one model: matrix k is an image when k is even, a buffer when
 * odd, and f16 when k mod 4 >= 2, else f32 (cast before fusion, as cast-weights does).
 */
function mixKindsAndDtypes(g: Graph): Graph {
  const mats = g.weights.filter((w) => w.type.shape.length === 2).map((w) => w.name);
  const k = (name: string) => mats.indexOf(name);
  const g16 = castWeights(g, 'f16');
  const half = new Set(mats.filter((m) => k(m) % 4 >= 2));
  let store = g.weightData;
  for (const m of half) store = store.with(m, g16.weightData.get(m));
  const mixed = makeGraph({ ...g, weights: g.weights.map((w) => (half.has(w.name) ? g16.weights.find((v) => v.name === w.name)! : w)), weightData: store });
  return annotateMemory(mixed, (w) => (k(w.name) < 0 ? undefined : k(w.name) % 2 === 0 ? 'image2d' : 'buffer'), () => undefined);
}

describe('C_n^4 weights as compact images and packed buffers (PoCL)', () => {
  const cases = [0, 1, 2, 3, 4, 'adaptive'] as const;
  for (const [i, n] of cases.entries()) {
    // Work-groups of 4 everywhere; n = 2 and adaptive mixes also with one work item per 4 rows.
    const groups = n === 2 || n === 'adaptive' ? [4, 0] : [4];
    it(`n = ${n}: f32/f16 x image/buffer weights, matvecs by work-groups of ${groups.join(' and ')}, equal the interpreter`, () => {
      const ck = randomCheckpoint(CONFIG, 31 + i);
      const ref = mixKindsAndDtypes(annotateCn4(buildMambaGraph(ck, { mode: 'decode' }), 40 + i, n === 'adaptive' ? undefined : n));
      const g = new PassManager('fuse-ops').run(ref).graph;
      for (const wg of groups) {
        const dir = outDir('ocl-cn4');
        const { manifest } = compileOpenCL(g, dir, { chunk: 4, matvecWorkGroup: wg, build: { opt: '-O1' } });
        expect(manifest.matvecWorkGroups).toContain(wg);
        if (n !== 4) expect(manifest.decodeWeightBytesByKind.image2d).toBeGreaterThan(0);
        const c = new OpenCLRunner(dir);
        open.push(c);
        differential(c, new InterpRunner(ref), Int32Array.of(1, 5, 7, 2, 8, 3, 10, 0), TOL);
        c.close();
      }
    });
  }
});

describe('the trained fixture, adaptive C_n^4 mix, through select-layout{device=adreno}', () => {
  it('weights become compact images, matvecs adreno work-groups, and it equals the interpreter', () => {
    const sparse = annotateCn4(buildMambaGraph(loadCheckpoint(join(fixturesDir(), 'mamba-shakespeare-s')), { mode: 'decode' }), 13);
    const g = new PassManager('fuse-ops,select-layout{device=adreno},materialize-layout').run(sparse).graph;
    const dir = outDir('ocl-cn4-fixture');
    const { manifest } = compileOpenCL(g, dir, { chunk: 8, build: { opt: '-O1' } });
    expect(manifest.device).toBe('adreno');
    expect(manifest.decodeConversions).toBe(0);
    expect(manifest.matvecWorkGroups.some((wg) => wg >= 2)).toBe(true);
    expect(manifest.imageWeights).toEqual(expect.arrayContaining(['l0.in_proj', 'l0.out_proj']));
    const c = new OpenCLRunner(dir);
    open.push(c);
    differential(c, new InterpRunner(sparse), Int32Array.from(new TextEncoder().encode('KATHARINA:\nI pray you, sir.\n')), TOL);
  });
});

describe('compact C_n^4 image layout', () => {
  const info = (K: number, segs: Array<[number, number]>, dtype: 'f32' | 'f16' = 'f32'): PackedTensorInfo => {
    let row = 0;
    return {
      name: 'w',
      dtype,
      layout: 'cn4',
      shape: [segs.reduce((a, [r]) => a + r, 0), K],
      offset: 0,
      size: 0,
      tileRows: 4,
      segments: segs.map(([rows, n]) => {
        const s = { firstRow: row, rows, n, offset: 0, size: 0 };
        row += rows;
        return s;
      }),
    };
  };

  it('the spec example: [2 x 5] at n = 2 is 2 texels a row (group, tail) and one code word a row', () => {
    const l = cn4ImageLayout(info(5, [[2, 2]]));
    expect(l.segments[0]).toMatchObject({ texBase: 0, rowTexels: 2, codeBase: 0, rowCodeBytes: 4 });
    expect({ texels: l.texels, width: l.width, height: l.height, codeBytes: l.codeBytes }).toEqual({ texels: 4, width: 4, height: 1, codeBytes: 8 });
  });

  it('rows take ceil(G (4 - n) / 4) texels (+1 for a tail); n = 4 rows take nothing; codes are whole words', () => {
    const l = cn4ImageLayout(info(768, [[3, 0], [5, 1], [7, 2], [2, 3], [4, 4]]));
    expect(l.segments.map((s) => s.rowTexels)).toEqual([192, 144, 96, 48, 0]);
    expect(l.segments.map((s) => s.rowCodeBytes)).toEqual([0, 48, 96, 48, 0]);
    expect(l.segments.map((s) => s.texBase)).toEqual([0, 576, 1296, 1968, 2064]);
    expect(l.width).toBe(4096);
    expect(l.height).toBe(1);
  });

  it('a 2:4 image reads the packed buffer\'s bytes (half the dense ones, plus codes), f32 and f16', () => {
    for (const dtype of ['f32', 'f16'] as const) {
      const vb = dtype === 'f16' ? 2 : 4;
      const l = cn4ImageLayout(info(768, [[3072, 2]], dtype));
      const dense = 3072 * 768 * vb;
      expect(cn4ImageBytes(l)).toBe(dense / 2 + (3072 * 192) / 2);
    }
  });
});

describe('bytes a decode step reads of weights, by memory kind', () => {
  it('sparse weights read fewer bytes than dense in both kinds, by the kept fraction plus codes', () => {
    const ck = randomCheckpoint({ ...CONFIG, dModel: 64, dInner: 128, dtRank: 8, dState: 4, vocabSize: 32 }, 5);
    const dense = buildMambaGraph(ck, { mode: 'decode' });
    const sparse = annotateCn4(dense, 9, 2);
    const mats = (g: Graph) => g.weights.filter((w) => w.type.shape.length === 2 && w.name !== 'embedding').map((w) => w.name);
    for (const kind of ['buffer', 'image2d'] as const) {
      const bytes = (g: Graph) => emitOpenCL(annotateMemory(g, (w) => (mats(g).includes(w.name) ? kind : 'buffer'), () => undefined)).manifest.decodeWeightBytesByKind[kind];
      const d = bytes(dense);
      const s = bytes(sparse);
      // 2 of 4 values kept, 4 bits of codes per group: 9/16 of the f32 dense bytes.
      expect(s / d).toBeGreaterThan(0.5);
      expect(s / d).toBeLessThan(0.6);
    }
  });
});

describe('f16 storage without cl_khr_fp16', () => {
  it('the kernels use half only as a pointer (vload_half, read_imagef on half images) and enable no extension', () => {
    const g = mixKindsAndDtypes(annotateCn4(buildMambaGraph(randomCheckpoint(CONFIG, 3), { mode: 'decode' }), 3));
    const src = emitOpenCL(g).files.get('kernels.cl')!;
    expect(src).toMatch(/vload_half/);
    expect(src).not.toMatch(/cl_khr_fp16/);
    expect(src.match(/\bhalf\b(?!\s*\*)/g) ?? []).toEqual([]);
  });
});

describe('matvec work-group choice', () => {
  it('the largest power of two <= the table size with enough texels per item; none for short rows', () => {
    const t = { workGroup: 64, minTexelsPerItem: 8 };
    expect(matvecGroup(8, t)).toBe(0);
    expect(matvecGroup(16, t)).toBe(2);
    expect(matvecGroup(192, t)).toBe(16);
    expect(matvecGroup(384, t)).toBe(32);
    expect(matvecGroup(100_000, t)).toBe(64);
    expect(matvecGroup(100_000, { workGroup: 1, minTexelsPerItem: 1 })).toBe(0);
  });
});
