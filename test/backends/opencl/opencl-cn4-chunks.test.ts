// C_n^4 weights whose tiles hold several chunks (packed format version 3: per chunk of
// CG(n) groups its codes, then its values, n = 1 values u-major in blocks of 4 groups;
// specs/packed-weights.md section 5), read on PoCL by every kernel that touches packed
// tiles: linear_cn4 in place, the compact image builders (img_cn4, cod_cn4) and
// linear_cn4i, the embedding views of a tied C_n^4 table. Shapes put full chunks, a
// partial last chunk (n = 1: with a full block and a partial one, gc mod 4 != 0), tail
// columns (K mod 4 != 0) and partial tiles (rows mod 4 != 0) in one model; each run
// equals the interpreter. Plus: the runtime rejects version 1 and 2 files with a
// message that says so.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { InterpRunner } from '../../../src/backends/interp/runner.ts';
import { compileOpenCL } from '../../../src/backends/opencl/compile.ts';
import { OpenCLRunner } from '../../../src/backends/opencl/runner.ts';
import { readPackedWeights, tileChunks, valueBytes } from '../../../src/backends/packed/index.ts';
import { buildMambaGraph } from '../../../src/frontend/mamba-graph.ts';
import type { Graph } from '../../../src/ir/graph.ts';
import { castWeights } from '../../../src/passes/cast-weights.ts';
import { PassManager } from '../../../src/passes/index.ts';
import { randomCheckpoint } from '../../helpers/random-model.ts';
import { annotateCn4, differential, outDir } from '../c/helpers.ts';
import { annotateMemory } from './helpers.ts';

const TOL = 1e-5;
const open: OpenCLRunner[] = [];
afterAll(() => open.forEach((r) => r.close()));

// in_proj [1048 x 278]: G = 69, tail 2 (n = 1, 3: a full chunk of 64 and one of 5,
// n = 1: a block of 4 groups and one of 1; n = 2: two of 32 and one of 5). out_proj
// [278 x 524]: G = 131 (n = 2: 4 full + 3; n = 1, 3: 2 full + 3), 278 rows (a last
// tile of 2). x_proj [23 x 524] (a last tile of 3), dt_proj [524 x 17] (4 groups and a
// tail), the tied head [11 x 278] (a last tile of 3, G = 69).
const CONFIG = { dModel: 278, nLayer: 1, vocabSize: 11, dState: 3, dConv: 3, expand: 2, dInner: 524, dtRank: 17, normEps: 1e-5, tiedHead: true, convBias: true, projBias: true };
const TOKENS = Int32Array.of(1, 5, 7, 2, 8, 3);

interface Chunking {
  readonly name: string;
  readonly n: number;
  readonly chunks: number;
  readonly partial: boolean;
  /** Groups of the last chunk. */
  readonly last: number;
  readonly t: number;
}

/** Every C_n^4 weight of the file: its tiles' chunk counts and how many groups the last chunk holds. */
function chunking(bytes: Uint8Array): Chunking[] {
  const out: Chunking[] = [];
  for (const w of readPackedWeights(bytes).tensors) {
    if (w.layout !== 'cn4') continue;
    for (const s of w.segments ?? []) {
      if (s.n === 0 || s.n === 4) continue;
      for (const t of new Set([Math.min(4, s.rows), s.rows % 4].filter((x) => x > 0))) {
        const ch = tileChunks(t, w.shape[1], s.n, valueBytes(w.dtype));
        const last = ch.length > 0 ? ch[ch.length - 1].groups : 0;
        out.push({ name: w.name, n: s.n, chunks: ch.length, partial: ch.length > 0 && last < ch[0].groups, last, t });
      }
    }
  }
  return out;
}

describe('packed tiles of several chunks, read by the OpenCL kernels (PoCL)', () => {
  const cases = [1, 2, 3, 'adaptive'] as const;
  for (const [i, n] of cases.entries()) {
    it(`n = ${n}: every matrix a buffer or a compact image, f32 and f16, equals the interpreter`, () => {
      const sparse = annotateCn4(buildMambaGraph(randomCheckpoint(CONFIG, 70 + i), { mode: 'decode' }), 80 + i, n === 'adaptive' ? undefined : n);
      for (const half of [false, true]) {
        const ref: Graph = half ? castWeights(sparse, 'f16') : sparse;
        for (const kind of ['buffer', 'image2d'] as const) {
          const g = new PassManager('fuse-ops').run(annotateMemory(ref, (w) => (w.type.shape.length === 2 ? kind : undefined), () => undefined)).graph;
          const dir = outDir('ocl-chunks');
          compileOpenCL(g, dir, { chunk: 4, build: { opt: '-O1' } });
          const ch = chunking(readFileSync(join(dir, 'weights.bin')));
          // The shapes do what they are for: several chunks with a partial last one, at
          // every n present, in full tiles and in partial ones; at n = 1 a last chunk of
          // a full block of 4 groups and a partial one.
          const n1Blocks = (c: Chunking) => c.n !== 1 || (c.last > 4 && c.last % 4 !== 0);
          for (const m of n === 'adaptive' ? [1, 2, 3] : [n]) {
            expect(ch.some((c) => c.n === m && c.chunks >= 2 && c.partial && n1Blocks(c) && c.t === 4)).toBe(true);
            if (n !== 'adaptive') expect(ch.some((c) => c.n === m && c.chunks >= 2 && c.partial && n1Blocks(c) && c.t < 4)).toBe(true);
          }
          const c = new OpenCLRunner(dir);
          open.push(c);
          differential(c, new InterpRunner(ref), TOKENS, TOL);
          c.close();
        }
      }
    });
  }
});

describe('packed weights file version', () => {
  it('the runtime rejects version 1 and 2 files, saying they are no longer read, and others as unsupported', () => {
    const g = annotateCn4(buildMambaGraph(randomCheckpoint({ ...CONFIG, dModel: 8, dInner: 16, dtRank: 2 }, 3), { mode: 'decode' }), 4, 2);
    const dir = outDir('ocl-version');
    compileOpenCL(g, dir, { chunk: 4, build: { opt: '-O0' } });
    const bytes = readFileSync(join(dir, 'weights.bin'));
    expect(bytes.readUInt32LE(8)).toBe(3);
    const refused: Array<[number, RegExp]> = [
      [1, /weights file version 1 is no longer read \(this runtime reads version 3; regenerate/],
      [2, /weights file version 2 is no longer read \(this runtime reads version 3; regenerate/],
      [4, /unsupported weights file version \(this runtime reads version 3\)/],
    ];
    for (const [v, message] of refused) {
      const file = join(dir, `weights-v${v}.bin`);
      const b = Buffer.from(bytes);
      b.writeUInt32LE(v, 8);
      writeFileSync(file, b);
      expect(() => open.push(new OpenCLRunner(dir, { weights: file }))).toThrow(message);
    }
  });
});
