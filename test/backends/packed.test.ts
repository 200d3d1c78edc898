// The packed C_n^4 weights file: byte-exact layout of the spec's worked example,
// pack -> unpack round trips for every n, dtype and tile size, metadata bits and the
// CSR ratio measured on real files, and named errors on corrupt files (the fuzzing
// of the reader is in test/fuzz/packed.fuzz.test.ts).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  GUARD, H, crc32, csrRatioAt50, fileChecksum, packWeights, readPackedWeights, unpack,
} from '../../src/backends/packed/index.ts';
import { SsmcError } from '../../src/errors.ts';
import { buildMambaGraph } from '../../src/frontend/mamba-graph.ts';
import { GraphBuilder } from '../../src/ir/builder.ts';
import type { Graph } from '../../src/ir/graph.ts';
import type { DType } from '../../src/ir/types.ts';
import { tensorType } from '../../src/ir/types.ts';
import type { WeightArray } from '../../src/ir/weights.ts';
import { arbGraph } from '../../src/testing/arbitraries.ts';
import { decodeBf16Array, decodeF16Array, encodeBf16Array, encodeF16Array } from '../../src/util/half.ts';
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
    want.set(hex('53 53 4d 43 50 41 43 4b 01 00 00 00 00 00 00 00 02 00 00 00 40 00 00 00 18 01 00 00 00 00 00 00'), 0);
    want.set(hex('40 00 00 00 00 00 00 00 52 00 00 00 00 00 00 00 c0 00 00 00 00 00 00 00 5a bd ed 1c 00 00 00 00'), 32);
    want.set(hex('01 00 77 00 01 02 00 02 00 00 00 05 00 00 00 c0 00 00 00 00 00 00 00 1c 00 00 00 00 00 00 00 04'), 64);
    want.set(hex('00 00 00 01 00 00 00 02 00 00 00 02 00 00 00 00 00 00 00 00 00 00 00 01 00 62 00 00 01 00 02 00'), 96);
    want.set(hex('00 00 00 01 00 00 00 00 00 00 08 00 00 00 00 00 00 00'), 128);
    want.set(hex('00 00 80 3f 00 00 00 40 00 00 40 40 00 00 80 40 00 00 a0 40 00 00 c0 40 c5'), 192);
    want.set(hex('00 00 00 3f 00 00 80 bf'), 256);
    expect([...bytes]).toEqual([...want]);
    expect(fileChecksum(bytes)).toBe(0x1cedbd5a);
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
    // n=1 tile: group 0 of rows 0 and 1, then group 1 of rows 0 and 1; codes = pruned positions.
    expect(f32(0, 12)).toEqual([2, 3, 4, 1, 3, 4, 5, 6, 8, 5, 7, 8]);
    expect(bytes[t.offset + 48]).toBe(0 | (1 << 2) | (2 << 4) | (1 << 6));
    // n=3 row: kept value and position per group.
    expect(f32(52, 2)).toEqual([3, 6]);
    expect(bytes[t.offset + 60]).toBe(2 | (1 << 2));
    expect(f32(64, 8)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(sameValues(unpack(readPackedWeights(bytes), 'm'), values)).toBe(true);
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
    b = base.slice();
    b[H.version] = 2;
    expect([err(b).code, err(b).location?.offset]).toEqual(['E_VERSION', H.version]);
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

  it('rejects an n = 2 keep-mask that does not keep exactly two', () => {
    const file = readPackedWeights(base);
    const a = file.tensors[0];
    // Tile of rows 0..2 (n = 2 for rows 0, 1; row 2 is n = 1): first segment is rows 0..1, n = 2.
    const codes = a.offset + 2 * 3 * 2 * 2; // 2 rows x 3 groups x 2 kept x 2 bytes
    const b = base.slice();
    b[codes] = 0x07 | (b[codes] & 0xf0);
    const e = err(resum(b));
    expect([e.code, e.location?.offset]).toEqual(['E_HEADER', codes]);
    expect(e.message).toMatch(/keep-mask 0b0111/);
  });
});
