// The packed C_n^4 weights file (version 3): byte-exact layout of the spec's worked
// example and of multi-chunk tiles, tile and chunk sizes worked out by hand from the
// spec's formulas, pack -> unpack round trips for every n, dtype and tile size (checked
// against a reference reader written from the spec, not from format.ts), metadata bits
// and the CSR ratio measured on real files, and named errors on corrupt files (the
// fuzzing of the reader is in test/fuzz/packed.fuzz.test.ts).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CHUNK_GROUPS, GUARD, H, VERSION, chunkBytes, crc32, csrRatioAt50, fileChecksum, groupCode, keepMask, packWeights, readPackedWeights, tileBytes, tileChunks, unpack,
} from '../../src/backends/packed/index.ts';
import { SsmcError } from '../../src/errors.ts';
import { buildMambaGraph } from '../../src/frontend/mamba-graph.ts';
import { GraphBuilder } from '../../src/ir/builder.ts';
import type { PackedTensorInfo } from '../../src/backends/packed/index.ts';
import type { Graph } from '../../src/ir/graph.ts';
import type { DType } from '../../src/ir/types.ts';
import { tensorType } from '../../src/ir/types.ts';
import type { WeightArray } from '../../src/ir/weights.ts';
import { arbGraph } from '../../src/testing/arbitraries.ts';
import { decodeBf16Array, decodeF16Array, encodeBf16Array, encodeF16Array, f16BitsToF32, f32ToF16Bits } from '../../src/util/half.ts';
import { Prng } from '../../src/util/prng.ts';
import { thrown } from '../helpers/errors.ts';
import { seed } from '../helpers/paths.ts';
import { randomCheckpoint } from '../helpers/random-model.ts';

interface W {
  readonly name: string;
  readonly dtype?: DType;
  readonly shape: number[];
  readonly cn4?: number[];
  readonly values: ArrayLike<number>;
}

/** A graph holding just these weights (packWeights reads nothing else). */
function weightsGraph(ws: readonly W[]): Graph {
  const b = new GraphBuilder('weights');
  for (const w of ws) {
    const dtype = w.dtype ?? 'f32';
    const data: WeightArray =
      dtype === 'f16' ? encodeF16Array(w.values) : dtype === 'bf16' ? encodeBf16Array(w.values) : dtype === 'i32' ? Int32Array.from(w.values) : Float32Array.from(w.values);
    b.weight(w.name, tensorType(dtype, w.shape, w.cn4 ? { cn4: w.cn4 } : {}), data);
  }
  return b.build();
}

/** What unpack must give back: the stored dtype's rounding of the weight's values. */
function expected(g: Graph, name: string, dtype: 'f32' | 'f16'): Float32Array | Int32Array {
  const decl = g.weights.find((w) => w.name === name)!;
  const a = g.weightData.get(name);
  if (a instanceof Int32Array) return a;
  const f = decl.type.dtype === 'f16' ? decodeF16Array(a as Uint16Array) : decl.type.dtype === 'bf16' ? decodeBf16Array(a as Uint16Array) : (a as Float32Array);
  return dtype === 'f16' ? decodeF16Array(encodeF16Array(f)) : f;
}

/** Equal as numbers (a pruned -0 comes back as +0). */
const sameValues = (a: ArrayLike<number>, b: ArrayLike<number>) => a.length === b.length && Array.from(a).every((v, i) => v === b[i] || (Number.isNaN(v) && Number.isNaN(b[i])));

/** Random values that obey C_n^4 row by row (n zeros in every full group, n = 4 rows all zero). */
function cn4Values(rng: Prng, rows: number, cols: number, cn4: readonly number[], extraZeros: boolean): Float32Array {
  const v = rng.fillUniform(new Float32Array(rows * cols), -2, 2);
  for (let r = 0; r < rows; r++) {
    const n = cn4[r];
    if (n === 4) v.fill(0, r * cols, (r + 1) * cols);
    for (let g = 0; g + 4 <= cols; g += 4) {
      const slots = [0, 1, 2, 3];
      const prune = n + (extraZeros && n < 4 ? rng.nextU32() % (5 - n) : 0);
      for (let z = 0; z < prune; z++) v[r * cols + g + slots.splice(rng.nextU32() % slots.length, 1)[0]] = z % 2 ? -0 : 0;
    }
  }
  return v;
}

/**
 * A reader of one cn4 tensor written from the spec's section 5 alone (its CG and bits
 * tables copied here, offsets computed as it states them), so the writer and unpack are
 * checked against the text rather than against format.ts. Also checks each segment ends
 * exactly at the size the table gives.
 */
function specDecode(bytes: Uint8Array, t: PackedTensorInfo): Float32Array {
  const CG = [0, 64, 32, 64, 0];
  const BITS = [0, 2, 4, 2, 0];
  const [rows, cols] = t.shape;
  const G = Math.floor(cols / 4);
  const w = cols % 4;
  const vb = t.dtype === 'f16' ? 2 : 4;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const val = (at: number) => (vb === 2 ? f16BitsToF32(dv.getUint16(at, true)) : dv.getFloat32(at, true));
  const align4 = (x: number) => Math.ceil(x / 4) * 4;
  const out = new Float32Array(rows * cols);
  for (const s of t.segments!) {
    if (s.n === 4) continue;
    const n = s.n;
    let p = t.offset + s.offset;
    for (let r0 = 0; r0 < s.rows; r0 += t.tileRows!) {
      const tr = Math.min(t.tileRows!, s.rows - r0);
      const tileStart = p;
      const cg = n === 0 ? G : CG[n];
      for (let q0 = 0; q0 < G; q0 += cg) {
        const gc = Math.min(cg, G - q0);
        const codesAt = p;
        p += n === 0 ? 0 : align4(Math.ceil((tr * gc * BITS[n]) / 8));
        const valuesAt = p;
        for (let k = 0; k < tr * gc; k++) {
          const gl = Math.floor(k / tr);
          const row = s.firstRow + r0 + (k % tr);
          const b = k * BITS[n];
          const code = n === 0 ? 0 : (bytes[codesAt + (b >> 3)] >> (b & 7)) & ((1 << BITS[n]) - 1);
          const kept = n === 0 ? [0, 1, 2, 3] : n === 1 ? [0, 1, 2, 3].filter((i) => i !== code) : n === 2 ? [code & 3, code >> 2] : [code];
          kept.forEach((i, u) => {
            // n = 1: blocks of 4 groups (the chunk's last may hold fewer, bl), each holding
            // every first kept value (group-major, row-minor), then every second, then every third.
            const blk = Math.floor(gl / 4);
            const bl = Math.min(4, gc - 4 * blk);
            const e = n === 1 ? 12 * tr * blk + u * bl * tr + (gl - 4 * blk) * tr + (k % tr) : k * kept.length + u;
            out[row * cols + 4 * (q0 + gl) + i] = val(valuesAt + e * vb);
          });
          p += kept.length * vb;
        }
      }
      for (let i = 0; i < tr; i++) {
        for (let c = cols - w; c < cols; c++) {
          out[(s.firstRow + r0 + i) * cols + c] = val(p);
          p += vb;
        }
      }
      p = tileStart + align4(p - tileStart);
    }
    expect(p - t.offset, `segment at row ${s.firstRow}`).toBe(s.offset + s.size);
  }
  return out;
}

describe('packed format: bytes', () => {
  it('uses zlib CRC-32', () => {
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
    expect(crc32(new Uint8Array(0))).toBe(0);
  });

  it('writes the worked example of specs/packed-weights.md byte for byte', () => {
    const g = weightsGraph([
      { name: 'w', shape: [2, 5], cn4: [2, 2], values: [1, 0, 2, 0, 5, 0, 0, 3, 4, 6] },
      { name: 'b', shape: [2], values: [0.5, -1] },
    ]);
    const { bytes, table } = packWeights(g, { dtype: 'f32' });
    const hex = (s: string) => s.trim().split(/\s+/).map((h) => parseInt(h, 16));
    const want = new Uint8Array(280);
    want.set(hex('53 53 4d 43 50 41 43 4b 03 00 00 00 00 00 00 00 02 00 00 00 40 00 00 00 18 01 00 00 00 00 00 00'), 0);
    want.set(hex('40 00 00 00 00 00 00 00 52 00 00 00 00 00 00 00 c0 00 00 00 00 00 00 00 2e c7 29 86 00 00 00 00'), 32);
    want.set(hex('01 00 77 00 01 02 00 02 00 00 00 05 00 00 00 c0 00 00 00 00 00 00 00 1c 00 00 00 00 00 00 00 04'), 64);
    want.set(hex('00 00 00 01 00 00 00 02 00 00 00 02 00 00 00 00 00 00 00 00 00 00 00 01 00 62 00 00 01 00 02 00'), 96);
    want.set(hex('00 00 00 01 00 00 00 00 00 00 08 00 00 00 00 00 00 00'), 128);
    // Codes first (0 | 2 << 2 = 8 and 2 | 3 << 2 = 14 in one byte, padded to 4), then 1, 2 | 3, 4 | 5 | 6.
    want.set(hex('e8 00 00 00 00 00 80 3f 00 00 00 40 00 00 40 40 00 00 80 40 00 00 a0 40 00 00 c0 40'), 192);
    want.set(hex('00 00 00 3f 00 00 80 bf'), 256);
    expect([...bytes]).toEqual([...want]);
    expect(fileChecksum(bytes)).toBe(0x8629c72e);
    expect(new DataView(bytes.buffer).getUint32(H.checksum, true)).toBe(0x8629c72e);
    expect(table.map((t) => [t.name, t.offset, t.size])).toEqual([['w', 192, 28], ['b', 256, 8]]);
    expect(table[0].segments).toEqual([{ firstRow: 0, rows: 2, n: 2, offset: 0, size: 28 }]);
  });

  it('interleaves the rows of a tile and keeps n = 4 rows out of the file', () => {
    // rows: n=1, n=1, n=3, n=4, n=0 with 8 columns and tiles of 2.
    const values = [0, 2, 3, 4, 5, 6, 0, 8, /**/ 1, 0, 3, 4, 5, 0, 7, 8, /**/ 0, 0, 3, 0, 0, 6, 0, 0, /**/ 0, 0, 0, 0, 0, 0, 0, 0, /**/ 1, 2, 3, 4, 5, 6, 7, 8];
    const g = weightsGraph([{ name: 'm', shape: [5, 8], cn4: [1, 1, 3, 4, 0], values }]);
    const { bytes, table } = packWeights(g, { dtype: 'f32', tileRows: 2 });
    const t = table[0];
    expect(t.segments!.map((s) => [s.n, s.rows, s.offset, s.size])).toEqual([[1, 2, 0, 52], [3, 1, 52, 12], [4, 1, 64, 0], [0, 1, 64, 32]]);
    const f32 = (at: number, n: number) => Array.from({ length: n }, (_, i) => new DataView(bytes.buffer).getFloat32(t.offset + at + 4 * i, true));
    // n=1 tile, one chunk of 2 groups: codes = pruned positions (g0r0, g0r1, g1r0, g1r1)
    // in 1 byte padded to 4; then one block of 2 groups: the first kept values of (g0r0,
    // g0r1, g1r0, g1r1), then the second ones, then the third ones.
    expect([...bytes.subarray(t.offset, t.offset + 4)]).toEqual([0 | (1 << 2) | (2 << 4) | (1 << 6), 0, 0, 0]);
    expect(f32(4, 12)).toEqual([2, 1, 5, 5, 3, 3, 6, 7, 4, 4, 8, 8]);
    // n=3 row: kept positions (2, 1) padded to 4 bytes, then the kept values.
    expect([...bytes.subarray(t.offset + 52, t.offset + 56)]).toEqual([2 | (1 << 2), 0, 0, 0]);
    expect(f32(56, 2)).toEqual([3, 6]);
    expect(f32(64, 8)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(sameValues(unpack(readPackedWeights(bytes), 'm'), values)).toBe(true);
  });
  it('stores n = 1 values u-major in blocks of 4 groups, the last block of a chunk shorter (one row, 5 groups)', () => {
    // Group g prunes position g % 4 and keeps 10g + 1, 10g + 2, 10g + 3 (ascending columns).
    const values = new Float32Array(21);
    for (let g = 0; g < 5; g++) for (let i = 0, u = 1; i < 4; i++) if (i !== g % 4) values[4 * g + i] = 10 * g + u++;
    values[20] = -1;
    const { bytes, table } = packWeights(weightsGraph([{ name: 'm', shape: [1, 21], cn4: [1], values }]), { dtype: 'f32' });
    const t = table[0];
    // Codes 0, 1, 2, 3, 0 in 2 bytes padded to 4; 15 values; the tail.
    expect(t.size).toBe(4 + 60 + 4);
    expect([...bytes.subarray(t.offset, t.offset + 4)]).toEqual([0 | (1 << 2) | (2 << 4) | (3 << 6), 0, 0, 0]);
    const dv = new DataView(bytes.buffer);
    const got = Array.from({ length: 16 }, (_, i) => dv.getFloat32(t.offset + 4 + 4 * i, true));
    expect(got).toEqual([1, 11, 21, 31, 2, 12, 22, 32, 3, 13, 23, 33, /* block 2: group 4 */ 41, 42, 43, -1]);
    expect(sameValues(unpack(readPackedWeights(bytes), 'm'), values)).toBe(true);
  });

  it('stores the codes of each chunk before its values, the tail after the last chunk (n = 3, two chunks)', () => {
    // 2 rows of 261 columns: G = 65 groups = chunks of 64 and 1, w = 1. Row r, group g keeps
    // position (g + r) % 4 holding 100r + g + 1; the tail holds -(r + 1).
    const cols = 261;
    const values = new Float32Array(2 * cols);
    for (let r = 0; r < 2; r++) {
      for (let g = 0; g < 65; g++) values[r * cols + 4 * g + ((g + r) % 4)] = 100 * r + g + 1;
      values[r * cols + 260] = -(r + 1);
    }
    const { bytes, table } = packWeights(weightsGraph([{ name: 'm', shape: [2, cols], cn4: [3, 3], values }]), { dtype: 'f32', tileRows: 2 });
    const t = table[0];
    // chunk 0: 2*64*2/8 = 32 B codes + 2*64*4 = 512 B values; chunk 1: 1 B codes padded to 4 + 8 B; tail 8 B.
    expect(t.size).toBe(32 + 512 + 4 + 8 + 8);
    const dv = new DataView(bytes.buffer);
    const want = new Uint8Array(32);
    for (let k = 0; k < 128; k++) want[k >> 2] |= ((Math.floor(k / 2) + (k % 2)) % 4) << (2 * (k % 4));
    expect([...bytes.subarray(t.offset, t.offset + 32)]).toEqual([...want]);
    for (let g = 0; g < 64; g++) for (let r = 0; r < 2; r++) expect(dv.getFloat32(t.offset + 32 + 4 * (2 * g + r), true)).toBe(100 * r + g + 1);
    expect([...bytes.subarray(t.offset + 544, t.offset + 548)]).toEqual([0 | (1 << 2), 0, 0, 0]);
    expect([548, 552, 556, 560].map((o) => dv.getFloat32(t.offset + o, true))).toEqual([65, 165, -1, -2]);
    expect(sameValues(unpack(readPackedWeights(bytes), 'm'), values)).toBe(true);
  });

  it('stores n = 2 codes as two ascending positions per nibble, chunk by chunk (f16, chunks of 32 and 1)', () => {
    const PAIRS = [[0, 1], [0, 2], [0, 3], [1, 2], [1, 3], [2, 3]];
    const cols = 132;
    const pair = (r: number, g: number) => PAIRS[(g + 2 * r) % 6];
    const v = (r: number, g: number, i: number) => r * 256 + g * 4 + i + 1; // exact in f16
    const values = new Float32Array(4 * cols);
    for (let r = 0; r < 4; r++) for (let g = 0; g < 33; g++) for (const i of pair(r, g)) values[r * cols + 4 * g + i] = v(r, g, i);
    const { bytes, table } = packWeights(weightsGraph([{ name: 'm', shape: [4, cols], cn4: [2, 2, 2, 2], values }]), { dtype: 'f16' });
    // chunk 0: 4*32*4/8 = 64 B codes + 4*32*2*2 = 512 B values; chunk 1: 2 B codes padded to 4 + 16 B values.
    const want = new Uint8Array(64 + 512 + 4 + 16);
    const wv = new DataView(want.buffer);
    const nib = (r: number, g: number) => pair(r, g)[0] | (pair(r, g)[1] << 2);
    for (let g = 0; g < 32; g++) {
      for (let r = 0; r < 4; r++) {
        const k = 4 * g + r;
        want[k >> 1] |= nib(r, g) << (4 * (k & 1));
        pair(r, g).forEach((i, e) => wv.setUint16(64 + 2 * (2 * k + e), f32ToF16Bits(v(r, g, i)), true));
      }
    }
    for (let r = 0; r < 4; r++) {
      want[576 + (r >> 1)] |= nib(r, 32) << (4 * (r & 1));
      pair(r, 32).forEach((i, e) => wv.setUint16(580 + 2 * (2 * r + e), f32ToF16Bits(v(r, 32, i)), true));
    }
    expect(table[0].size).toBe(want.length);
    expect([...bytes.subarray(table[0].offset, table[0].offset + want.length)]).toEqual([...want]);
    expect(sameValues(unpack(readPackedWeights(bytes), 'm'), values)).toBe(true);
  });

  it('codes n = 2 groups as (first kept | second kept << 2), pruning the zeros of highest index', () => {
    expect(groupCode(2, 1, 0, 2, 0)).toBe(0 | (2 << 2));
    expect(groupCode(2, 0, 0, 3, 4)).toBe(2 | (3 << 2));
    expect(groupCode(2, 0, 0, 0, 0)).toBe(0 | (1 << 2));
    expect(groupCode(2, 0, 7, 0, 0)).toBe(0 | (1 << 2));
    expect(groupCode(2, 1, 2, 3, 0)).toBe(-1);
    // Only the 6 codes with first < second are valid; each names its pair.
    const valid: number[] = [];
    for (let code = 0; code < 16; code++) {
      const a = code & 3;
      const b = code >> 2;
      expect(keepMask(2, code), `code ${code}`).toBe(a < b ? (1 << a) | (1 << b) : -1);
      if (a < b) valid.push(code);
    }
    expect(valid).toEqual([4, 8, 9, 12, 13, 14]);
    // n = 1 (pruned position) and n = 3 (kept position) are as in version 1.
    expect(groupCode(1, 1, 2, 0, 3)).toBe(2);
    expect(groupCode(3, 0, 7, 0, 0)).toBe(1);
    expect([keepMask(1, 2), keepMask(3, 1)]).toEqual([0b1011, 0b0010]);
  });
});

describe('packed format: tile and chunk sizes', () => {
  it('match the formulas of the spec, worked by hand', () => {
    expect(VERSION).toBe(3);
    expect(CHUNK_GROUPS).toEqual([0, 64, 32, 64, 0]);
    // A full chunk of 4 rows has 64 bytes of codes whatever n (16 bytes per row).
    for (const n of [1, 2, 3]) for (const t of [1, 3, 4]) expect(chunkBytes(t, CHUNK_GROUPS[n], n, 4).codes).toBe(16 * t);
    // t=4, K=768, n=2, f16: 6 chunks of 32 groups, each 64 B codes + 4*32*2*2 = 512 B values.
    expect(tileBytes(4, 768, 2, 2)).toEqual({ values: 3072, codes: 384, tailAt: 3456, size: 3456 });
    // K=48, n=1, f32: one partial chunk of 12 groups: ceil(4*12*2/8) = 12 B codes + 4*12*3*4 = 576 B.
    expect(tileBytes(4, 48, 1, 4)).toEqual({ values: 576, codes: 12, tailAt: 588, size: 588 });
    // K=150, n=2, f32: G=37 = 32 + 5, w=2: (64 + 1024) + (align4(10) = 12 + 160) + tail 4*2*4 = 32.
    expect(tileBytes(4, 150, 2, 4)).toEqual({ values: 1024 + 160 + 32, codes: 76, tailAt: 1260, size: 1292 });
    expect(tileChunks(4, 150, 2, 4)).toEqual([
      { firstGroup: 0, groups: 32, codesOffset: 0, codesBytes: 64, valuesOffset: 64, valuesBytes: 1024 },
      { firstGroup: 32, groups: 5, codesOffset: 1088, codesBytes: 12, valuesOffset: 1100, valuesBytes: 160 },
    ]);
    // K=130, n=1, f32: G=32 < 64 (a partial chunk), w=2: 32 B codes + 1536 B values + 32 B tail.
    expect(tileBytes(4, 130, 1, 4).size).toBe(1600);
    // A partial tile, t=3, K=130, n=2, f16: 3*32*4/8 = 48 B codes + 384 B values + 12 B tail.
    expect(tileBytes(3, 130, 2, 2).size).toBe(444);
    // t=3, K=520, n=3, f32: G=130 = 64 + 64 + 2: 2 * (48 + 768) + (align4(2) = 4 + 24).
    expect(tileBytes(3, 520, 3, 4).size).toBe(1660);
    // t=3, K=6, n=3, f16: 1 code byte padded to 4 + 6 B values + 12 B tail = 22, tile padded to 24.
    expect(tileBytes(3, 6, 3, 2)).toEqual({ values: 18, codes: 4, tailAt: 10, size: 24 });
    // n = 0: no codes, no chunks: 3*32*4*2 + 12 = 780; t=1, K=5, f16: 8 + 2 = 10, padded to 12.
    expect(tileBytes(3, 130, 0, 2)).toEqual({ values: 780, codes: 0, tailAt: 768, size: 780 });
    expect(tileChunks(3, 130, 0, 2)).toEqual([]);
    expect(tileBytes(1, 5, 0, 2).size).toBe(12);
    expect(tileBytes(4, 768, 4, 4).size).toBe(0);
    // No full group: no chunk, only the tail.
    expect(tileBytes(4, 3, 2, 4)).toEqual({ values: 48, codes: 0, tailAt: 0, size: 48 });
  });

  it('give the segment sizes of a written file (full tile, then a 1-row tile: 1292 + 324)', () => {
    const cn4 = [2, 2, 2, 2, 2];
    const values = cn4Values(new Prng(3), 5, 150, cn4, false);
    const { table } = packWeights(weightsGraph([{ name: 'w', shape: [5, 150], cn4, values }]), { dtype: 'f32' });
    // t=1: (16 + 256) + (align4(3) = 4 + 40) + 8 = 324.
    expect(table[0].segments).toEqual([{ firstRow: 0, rows: 5, n: 2, offset: 0, size: 1292 + 324 }]);
  });
});

describe('packed format: round trips', () => {
  const arbTensor = fc.record({
    rows: fc.integer({ min: 0, max: 11 }),
    cols: fc.integer({ min: 0, max: 21 }),
    style: fc.constantFrom('uniform', 'runs', 'random'),
    nAll: fc.integer({ min: 0, max: 4 }),
    source: fc.constantFrom<DType>('f32', 'f16', 'bf16'),
    extraZeros: fc.boolean(),
  });

  it('pack -> unpack gives the masked weights for every n, tile size and both dtypes', () => {
    fc.assert(
      fc.property(fc.array(arbTensor, { minLength: 1, maxLength: 4 }), fc.constantFrom<'f32' | 'f16'>('f32', 'f16'), fc.integer({ min: 1, max: 5 }), fc.integer(), (specs, dtype, tileRows, s) => {
        const rng = new Prng(s, 'weights');
        const ws: W[] = specs.map((t, i) => {
          const cn4 = Array.from({ length: t.rows }, (_, r) => (t.style === 'uniform' ? t.nAll : t.style === 'runs' ? (r < t.rows / 2 ? t.nAll : (t.nAll + 2) % 5) : rng.nextU32() % 5));
          return { name: `t${i}`, dtype: t.source, shape: [t.rows, t.cols], cn4, values: cn4Values(rng, t.rows, t.cols, cn4, t.extraZeros) };
        });
        ws.push({ name: 'dense', shape: [3], values: [1.5, -0, 7] }, { name: 'ids', dtype: 'i32', shape: [2], values: [5, -3] });
        const g = weightsGraph(ws);
        const file = readPackedWeights(packWeights(g, { dtype, tileRows }).bytes, 'rt.bin');
        for (const w of g.weights) expect(sameValues(unpack(file, w.name), expected(g, w.name, dtype)), w.name).toBe(true);
      }),
      { seed, numRuns: 300 },
    );
  });

  it('multi-chunk tiles of every n and both dtypes read back as the spec says (reference reader)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 9 }),
        fc.oneof(fc.integer({ min: 0, max: 21 }), fc.integer({ min: 120, max: 560 })),
        fc.constantFrom<'f32' | 'f16'>('f32', 'f16'),
        fc.integer({ min: 1, max: 5 }),
        fc.boolean(),
        fc.integer(),
        (rows, cols, dtype, tileRows, extraZeros, s) => {
          const rng = new Prng(s, 'chunks');
          const cn4 = Array.from({ length: rows }, () => rng.nextU32() % 5);
          const g = weightsGraph([{ name: 'w', shape: [rows, cols], cn4, values: cn4Values(rng, rows, cols, cn4, extraZeros) }]);
          const { bytes } = packWeights(g, { dtype, tileRows });
          const file = readPackedWeights(bytes);
          const want = expected(g, 'w', dtype);
          expect(sameValues(specDecode(bytes, file.tensors[0]), want)).toBe(true);
          expect(sameValues(unpack(file, 'w'), want)).toBe(true);
        },
      ),
      { seed, numRuns: 120 },
    );
  });

  it('without a dtype, stores each tensor in its IR dtype (bf16 widened to f32; f16 bits copied)', () => {
    fc.assert(
      fc.property(fc.array(arbTensor, { minLength: 1, maxLength: 4 }), fc.integer(), (specs, s) => {
        const rng = new Prng(s, 'weights');
        const ws: W[] = specs.map((t, i) => {
          const cn4 = Array.from({ length: t.rows }, () => rng.nextU32() % 5);
          return { name: `t${i}`, dtype: t.source, shape: [t.rows, t.cols], cn4: t.style === 'uniform' ? undefined : cn4, values: cn4Values(rng, t.rows, t.cols, cn4, t.extraZeros) };
        });
        const g = weightsGraph(ws);
        const file = readPackedWeights(packWeights(g).bytes, 'ir.bin');
        for (const w of g.weights) {
          const irDtype = w.type.dtype === 'f16' ? 'f16' : 'f32';
          expect(file.tensors.find((t) => t.name === w.name)!.dtype, w.name).toBe(irDtype);
          expect(sameValues(unpack(file, w.name), expected(g, w.name, irDtype)), w.name).toBe(true);
        }
      }),
      { seed, numRuns: 100 },
    );
  });

  it('round-trips every weight of random graphs (their cn4 annotations included) and of a Mamba model', () => {
    fc.assert(
      fc.property(arbGraph({ maxNodes: 6 }), fc.constantFrom<'f32' | 'f16'>('f32', 'f16'), (g, dtype) => {
        const file = readPackedWeights(packWeights(g, { dtype }).bytes);
        expect(file.tensors.map((t) => t.name)).toEqual(g.weights.map((w) => w.name));
        for (const w of g.weights) {
          expect(file.tensors.find((t) => t.name === w.name)!.layout).toBe(w.type.cn4 ? 'cn4' : 'dense');
          expect(sameValues(unpack(file, w.name), expected(g, w.name, dtype))).toBe(true);
        }
      }),
      { seed, numRuns: 150 },
    );
    const c = { dModel: 8, nLayer: 2, vocabSize: 11, dState: 4, dConv: 4, expand: 2, dtRank: 2, tiedHead: false, convBias: true, projBias: true, dInner: 16, normEps: 1e-5 };
    const g = buildMambaGraph(randomCheckpoint(c, 3));
    const file = readPackedWeights(packWeights(g, { dtype: 'f16' }).bytes);
    for (const w of g.weights) expect(sameValues(unpack(file, w.name), expected(g, w.name, 'f16'))).toBe(true);
  });

  it('names the weight and the row when a cn4 row is not C_n^4', () => {
    const values = cn4Values(new Prng(1), 3, 8, [2, 2, 2], false);
    values[1 * 8 + 5] = values[1 * 8 + 5] === 0 ? 0.25 : values[1 * 8 + 5];
    values.fill(1, 8 + 4, 8 + 8);
    let e = thrown(() => packWeights(weightsGraph([{ name: 'l0.in_proj', shape: [3, 8], cn4: [2, 2, 2], values }]), { dtype: 'f32' }));
    expect(e.code).toBe('E_VERIFY');
    expect(e.message).toMatch(/@l0\.in_proj row 1: cn4 n=2, but columns 4\.\.7 hold 0 zeros/);
    const full = new Float32Array(8);
    full[6] = 1;
    e = thrown(() => packWeights(weightsGraph([{ name: 'gone', shape: [1, 8], cn4: [4], values: full }]), { dtype: 'f16' }));
    expect(e.message).toMatch(/@gone row 0: cn4 n=4 \(row not stored\), but column 6 is 1/);
  });
});

describe('packed format: size', () => {
  /** Metadata bits per group of one n-uniform tensor, from the file's size alone. */
  function metadataBits(rows: number, cols: number, n: number, dtype: 'f32' | 'f16'): { tensor: number; whole: number } {
    const g = weightsGraph([{ name: 'w', shape: [rows, cols], cn4: Array(rows).fill(n), values: cn4Values(new Prng(n), rows, cols, Array(rows).fill(n), false) }]);
    const { bytes } = packWeights(g, { dtype });
    const file = readPackedWeights(bytes);
    const dataOffset = Number(new DataView(bytes.buffer).getBigUint64(H.dataOffset, true));
    const groups = (rows * cols) / 4;
    const valueBytes = groups * (4 - n) * (dtype === 'f16' ? 2 : 4);
    expect(file.tensors[0].offset).toBe(dataOffset);
    return { tensor: ((bytes.length - dataOffset - GUARD - valueBytes) * 8) / groups, whole: ((bytes.length - valueBytes) * 8) / groups };
  }

  it('spends at most 4 bits of metadata per group of 4 (2 bits for n = 1 and 3)', () => {
    for (const dtype of ['f32', 'f16'] as const) {
      expect(metadataBits(256, 1024, 2, dtype).tensor).toBe(4);
      expect(metadataBits(256, 1024, 1, dtype).tensor).toBe(2);
      expect(metadataBits(256, 1024, 3, dtype).tensor).toBe(2);
      // The whole file: header, table and guard add 144 bytes over 65536 groups.
      expect(metadataBits(256, 1024, 2, dtype).whole).toBeCloseTo(4 + (144 * 8) / 65536, 10);
    }
  });

  it('is at least 1.5x smaller than CSR with 32-bit indices at 50% sparsity', () => {
    for (const dtype of ['f32', 'f16'] as const) {
      for (const [rows, cols] of [[64, 256], [3072, 768], [768, 1536], [1536, 48]]) {
        const r = csrRatioAt50(rows, cols, dtype);
        expect(r.ratio).toBeGreaterThanOrEqual(1.5);
        expect(r.metadataBitsPerGroup).toBeLessThanOrEqual(4);
      }
      // The same figure measured on a written file: CSR counted from the data itself.
      const rows = 64;
      const cols = 256;
      const values = cn4Values(new Prng(9), rows, cols, Array(rows).fill(2), false);
      const { table } = packWeights(weightsGraph([{ name: 'w', shape: [rows, cols], cn4: Array(rows).fill(2), values }]), { dtype });
      const nnz = values.filter((v) => v !== 0).length;
      const csr = nnz * ((dtype === 'f16' ? 2 : 4) + 4) + (rows + 1) * 4;
      expect(csr / table[0].size).toBeGreaterThanOrEqual(1.5);
      expect(table[0].size).toBe(csrRatioAt50(rows, cols, dtype).packedBytes);
    }
    expect(csrRatioAt50(3072, 768, 'f32').ratio).toBeCloseTo(1.8848, 4);
    expect(csrRatioAt50(3072, 768, 'f16').ratio).toBeCloseTo(2.6713, 4);
  });
});

describe('packed format: corrupt files', () => {
  const base = (() => {
    const rng = new Prng(5);
    const g = weightsGraph([
      { name: 'a', shape: [6, 12], cn4: [2, 2, 1, 3, 4, 0], values: cn4Values(rng, 6, 12, [2, 2, 1, 3, 4, 0], false) },
      { name: 'b', shape: [3], values: [1, 2, 3] },
      { name: 'c', shape: [4, 9], cn4: [2, 2, 2, 2], dtype: 'f16', values: cn4Values(rng, 4, 9, [2, 2, 2, 2], true) },
    ]);
    return packWeights(g, { dtype: 'f16', tileRows: 3 }).bytes;
  })();
  const resum = <T extends Uint8Array>(b: T): T => {
    new DataView(b.buffer, b.byteOffset).setUint32(H.checksum, fileChecksum(b), true);
    return b;
  };
  const err = (b: Uint8Array) => thrown(() => readPackedWeights(b, 'bad.bin'));

  it('names the problem and its byte offset', () => {
    let b = base.slice();
    b[0] = 0x58;
    expect([err(b).code, err(b).location?.offset]).toEqual(['E_MAGIC', 0]);
    expect(new DataView(base.buffer).getUint32(H.version, true)).toBe(3);
    for (const v of [1, 2, 4, 0]) {
      b = base.slice();
      b[H.version] = v;
      expect([err(resum(b)).code, err(resum(b)).location?.offset]).toEqual(['E_VERSION', H.version]);
    }
    b = base.slice();
    b[H.version] = 1;
    expect(err(resum(b)).message).toMatch(/version 1 is not supported .*repack/);
    b[H.version] = 2;
    expect(err(resum(b)).message).toMatch(/version 2 is not supported .*n=1 values group by group; repack/);
    b = base.slice();
    b[300] ^= 1;
    expect([err(b).code, err(b).location?.offset]).toEqual(['E_CHECKSUM', H.checksum]);
    expect(err(b).message).toMatch(/bad\.bin @byte 56: checksum mismatch/);
    b = base.slice(0, base.length - 1);
    expect(err(b).code).toBe('E_TRUNCATED');
    expect(err(base.slice(0, 10)).code).toBe('E_TRUNCATED');
    b = resum(base.slice());
    new DataView(b.buffer).setBigUint64(H.dataOffset, 7n, true);
    expect(err(resum(b)).code).toBe('E_OFFSETS');
    // The first entry's data offset (after "a", dtype/layout/rank, 2 dims) pointed past the end.
    b = base.slice();
    new DataView(b.buffer).setBigUint64(64 + 2 + 1 + 4 + 8, BigInt(base.length + 64), true);
    expect([err(resum(b)).code, err(resum(b)).location?.offset, err(resum(b)).location?.what]).toEqual(['E_OFFSETS', 64 + 15, 'a']);
    expect(() => readPackedWeights(b, 'x', { checksum: true })).toThrow(SsmcError);
  });

  it('rejects an n = 2 code whose first position is not lower than its second', () => {
    const file = readPackedWeights(base);
    const a = file.tensors[0];
    // Tile of rows 0..1 (the n = 2 segment, t = 2, G = 3: one chunk): its codes open the tensor.
    const codes = a.offset;
    for (const [nibble, hi, msg] of [
      [0b0111, false, /row 0 group 0: n=2 code 0x7 names positions 3 and 1; the first must be lower/],
      [0b0101, false, /row 0 group 0: n=2 code 0x5 names positions 1 and 1/],
      [0b0000, true, /row 1 group 0: n=2 code 0x0 names positions 0 and 0/],
    ] as const) {
      const b = base.slice();
      b[codes] = hi ? (b[codes] & 0x0f) | (nibble << 4) : (b[codes] & 0xf0) | nibble;
      const e = err(resum(b));
      expect([e.code, e.location?.offset, e.location?.what]).toEqual(['E_HEADER', codes, 'a']);
      expect(e.message).toMatch(msg);
    }
  });

  it('finds a bad n = 2 code in a later chunk of a partial tile', () => {
    // 5 x 132, n = 2, f32, tiles of 4: tile 0 is 1088 + 36 = 1124 bytes; tile 1 (1 row) has
    // chunk 0 (16 B codes + 256 B values) and then chunk 1, whose code is at byte 1396.
    const cn4 = [2, 2, 2, 2, 2];
    const good = packWeights(weightsGraph([{ name: 'w', shape: [5, 132], cn4, values: cn4Values(new Prng(8), 5, 132, cn4, false) }]), { dtype: 'f32' }).bytes;
    const w = readPackedWeights(good).tensors[0];
    expect(w.size).toBe(1124 + 284);
    const at = w.offset + 1396;
    const b = good.slice();
    b[at] = (b[at] & 0xf0) | (3 | (2 << 2));
    const e = err(resum(b));
    expect([e.code, e.location?.offset]).toEqual(['E_HEADER', at]);
    expect(e.message).toMatch(/row 4 group 32: n=2 code 0xb names positions 3 and 2/);
    // A changed value is not a format error: the code walk must not read values as codes.
    const c = good.slice();
    c[w.offset + 1396 + 4] ^= 0xff;
    expect(() => readPackedWeights(resum(c))).not.toThrow();
  });
});
