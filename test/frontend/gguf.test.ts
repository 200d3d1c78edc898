import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { SsmcError, type ErrorCode } from '../../src/errors.ts';
import { fileSource, memorySource } from '../../src/frontend/bytes.ts';
import type { RawTensor } from '../../src/frontend/raw-tensor.ts';
import { gguf, openGguf, writeGguf, writeGgufFile, type GgufValue } from '../../src/frontend/gguf.ts';
import type { TensorInput } from '../../src/frontend/safetensors.ts';
import { thrown as errorOf } from '../helpers/errors.ts';
import { rawTensorArb } from '../helpers/raw-tensors.ts';

const SEED = Number(process.env.FC_SEED ?? 42);
const dir = mkdtempSync(join(tmpdir(), 'ssmc-gguf-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// Codes from llama.cpp's gguf.h (gguf_type) and ggml.h (ggml_type), written out
// independently of the implementation.
const T = { u8: 0, i8: 1, u16: 2, i16: 3, u32: 4, i32: 5, f32: 6, bool: 7, string: 8, array: 9, u64: 10, i64: 11, f64: 12 };
const GGML = { F32: 0, F16: 1, Q4_0: 2, F64: 28, BF16: 30 };

/** Little-endian byte builder for hand-made GGUF files. */
class B {
  private out: number[] = [];
  raw(...b: number[]) { this.out.push(...b); return this; }
  u32(v: number) { return this.raw(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff); }
  u64(v: bigint | number) {
    let x = BigInt.asUintN(64, BigInt(v));
    for (let i = 0; i < 8; i++, x >>= 8n) this.out.push(Number(x & 0xffn));
    return this;
  }
  str(s: string) { const b = new TextEncoder().encode(s); return this.u64(b.length).raw(...b); }
  f32s(...v: number[]) { return this.raw(...new Uint8Array(new Float32Array(v).buffer)); }
  pad(a: number) { while (this.out.length % a) this.out.push(0); return this; }
  header(nTensors: number | bigint, nKv: number | bigint, version = 3) { return this.raw(0x47, 0x47, 0x55, 0x46).u32(version).u64(nTensors).u64(nKv); }
  info(name: string, ne: Array<number | bigint>, type: number, offset: number | bigint) {
    this.str(name).u32(ne.length);
    for (const d of ne) this.u64(d);
    return this.u32(type).u64(offset);
  }
  get length() { return this.out.length; }
  bytes() { return new Uint8Array(this.out); }
}

function codeOf(f: () => unknown): ErrorCode | 'none' {
  try {
    f();
    return 'none';
  } catch (e) {
    if (e instanceof SsmcError) return e.code;
    throw e;
  }
}

const open = (b: Uint8Array | B) => openGguf(memorySource(b instanceof B ? b.bytes() : b, 'm.gguf'));
const bytesOf = (t: RawTensor) => new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);

describe('gguf layout', () => {
  it('writes the exact bytes of a small file', () => {
    // By hand: 24-byte header; kv = 8+20 key, 4 type, 8+5 value = 45 (→ 69);
    // tensor info = 8+1 name, 4 n_dims, 2×8 ne, 4 type, 8 offset = 41 (→ 110);
    // data section at 128; 24 bytes of data padded to 32: 160 bytes in all.
    const expected = new B()
      .header(1, 1)
      .str('general.architecture').u32(T.string).str('mamba')
      .info('w', [3, 2], GGML.F32, 0)
      .pad(32)
      .f32s(0, 1, 2, 3, 4, 5)
      .pad(32)
      .bytes();
    expect(expected.length).toBe(160);
    const got = writeGguf({
      metadata: [['general.architecture', gguf.str('mamba')]],
      tensors: [['w', { dtype: 'f32', shape: [2, 3], data: new Float32Array([0, 1, 2, 3, 4, 5]) }]],
    });
    expect(got).toEqual(expected);
  });

  it('reads a hand-built v2 file with a custom alignment', () => {
    const b = new B().header(2, 2, 2)
      .str('general.alignment').u32(T.u32).u32(64)
      .str('tok').u32(T.array).u32(T.string).u64(2).str('a').str('bc')
      .info('x', [2], GGML.F16, 0)
      .info('y', [1, 1], GGML.BF16, 64);
    const dataStart = Math.ceil(b.length / 64) * 64;
    b.pad(64).raw(0x00, 0x3c, 0x00, 0xc0).pad(64).raw(0x80, 0x3f);
    const f = open(b);
    expect(f.version).toBe(2);
    expect(f.alignment).toBe(64);
    expect(f.dataOffset).toBe(dataStart);
    expect(f.metadata.get('tok')).toEqual(gguf.arr('string', ['a', 'bc']));
    expect(f.tensors.get('y')).toEqual({ dtype: 'bf16', shape: [1, 1], offset: dataStart + 64, nbytes: 2 });
    expect(f.read('x')).toEqual({ dtype: 'f16', shape: [2], data: new Uint16Array([0x3c00, 0xc000]) });
    expect(f.read('y').data).toEqual(new Uint16Array([0x3f80]));
  });

  it('reverses ne into a row-major shape', () => {
    const b = new B().header(1, 0).info('m', [4, 3, 2], GGML.F32, 0).pad(32).f32s(...Array.from({ length: 24 }, (_, i) => i));
    expect(open(b).tensors.get('m')?.shape).toEqual([2, 3, 4]);
  });
});

const NUM: Record<string, fc.Arbitrary<number>> = {
  u8: fc.integer({ min: 0, max: 255 }),
  i8: fc.integer({ min: -128, max: 127 }),
  u16: fc.integer({ min: 0, max: 0xffff }),
  i16: fc.integer({ min: -0x8000, max: 0x7fff }),
  u32: fc.integer({ min: 0, max: 0xffffffff }),
  i32: fc.integer({ min: -0x80000000, max: 0x7fffffff }),
  f32: fc.float(),
  f64: fc.double(),
};
const itemArb: Record<string, fc.Arbitrary<unknown>> = {
  ...NUM,
  u64: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
  i64: fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
  bool: fc.boolean(),
  string: fc.string({ unit: 'grapheme', maxLength: 8 }),
};
const valueArb: fc.Arbitrary<GgufValue> = fc.constantFrom(...Object.keys(itemArb)).chain((t) =>
  fc.oneof(
    itemArb[t].map((value) => ({ type: t, value }) as GgufValue),
    fc.array(itemArb[t], { maxLength: 5 }).map((value) => ({ type: 'array', itemType: t, value }) as GgufValue),
  ),
);
const tensorArb = rawTensorArb(5);
const fileArb = fc.record({
  metadata: fc.uniqueArray(fc.tuple(fc.string({ minLength: 1, maxLength: 10 }), valueArb), { selector: ([k]) => k, maxLength: 8 })
    .map((kv) => kv.filter(([k]) => k !== 'general.alignment')),
  tensors: fc.uniqueArray(fc.tuple(fc.string({ minLength: 1, maxLength: 6 }), tensorArb), { selector: ([k]) => k, maxLength: 5 }),
  alignment: fc.option(fc.constantFrom(1, 8, 16, 32, 64, 256), { nil: undefined }),
});
type FileSpec = { metadata: Array<[string, GgufValue]>; tensors: Array<[string, RawTensor]>; alignment?: number };
const withAlignment = ({ metadata, tensors, alignment }: FileSpec): FileSpec => ({
  metadata: alignment === undefined ? metadata : [...metadata, ['general.alignment', gguf.u32(alignment)] as [string, GgufValue]],
  tensors,
  alignment,
});

describe('gguf round trip', () => {
  it('reads back metadata of every type and random tensors, laid out as llama.cpp expects', () => {
    fc.assert(
      fc.property(fileArb, (raw) => {
        const opts = withAlignment(raw);
        const bytes = writeGguf(opts);
        const f = open(bytes);
        const align = opts.alignment ?? 32;
        expect(f.version).toBe(3);
        expect(f.alignment).toBe(align);
        expect([...f.metadata]).toEqual(opts.metadata);
        expect([...f.tensors.keys()]).toEqual(opts.tensors.map(([n]) => n));
        // llama.cpp's loader: data section aligned, each tensor at the previous one's
        // padded end, and the file long enough for the padded last tensor.
        expect(f.dataOffset % align).toBe(0);
        let at = f.dataOffset;
        for (const [name, t] of opts.tensors) {
          const info = f.tensors.get(name)!;
          expect(info.offset).toBe(at);
          at += Math.ceil(info.nbytes / align) * align;
          const back = f.read(name);
          expect(back.dtype).toBe(t.dtype);
          expect(back.shape).toEqual(t.shape);
          expect(bytesOf(back)).toEqual(bytesOf(t));
        }
        expect(bytes.length).toBe(at);
      }),
      { seed: SEED, numRuns: 150 },
    );
  });

  it('streams to a file with the same bytes as the in-memory writer', () => {
    const path = join(dir, 'm.gguf');
    const opts = {
      metadata: [['general.architecture', gguf.str('mamba')], ['mamba.block_count', gguf.u32(2)]] as Array<[string, GgufValue]>,
      tensors: [
        ['a', { dtype: 'f16', shape: [3], data: new Uint16Array([1, 2, 3]) }],
        ['b', { dtype: 'f32', shape: [2, 2], load: () => new Float32Array([1, 2, 3, 4]) }],
      ] as Array<[string, TensorInput]>,
    };
    writeGgufFile(path, opts);
    expect(new Uint8Array(readFileSync(path))).toEqual(writeGguf(opts));
    const src = fileSource(path);
    try {
      expect(Array.from(openGguf(src).read('b').data)).toEqual([1, 2, 3, 4]);
    } finally {
      src.close();
    }
    expect(readdirSync(dir)).toEqual(['m.gguf']);
  });

  it('rejects bad writer input', () => {
    const t: RawTensor = { dtype: 'f32', shape: [1], data: new Float32Array(1) };
    const w = (metadata: Array<[string, GgufValue]>, tensors: Array<[string, RawTensor]> = [], alignment?: number) =>
      codeOf(() => writeGguf({ metadata, tensors, alignment }));
    expect(w([['k', gguf.u8(300)]])).toBe('E_ARG');
    expect(w([['k', gguf.i32(1.5)]])).toBe('E_ARG');
    expect(w([['k', gguf.u64(-1)]])).toBe('E_ARG');
    expect(w([['k', gguf.arr('u16', [1, -1])]])).toBe('E_ARG');
    expect(w([['k', gguf.u8(1)], ['k', gguf.u8(1)]])).toBe('E_ARG');
    expect(w([['', gguf.u8(1)]])).toBe('E_ARG');
    expect(w([['general.alignment', gguf.u32(48)]])).toBe('E_ARG');
    expect(w([['general.alignment', gguf.u64(64)]])).toBe('E_ARG');
    expect(w([], [], 64)).toBe('E_ARG'); // an alignment llama.cpp would not know about
    expect(w([['general.alignment', gguf.u32(64)]], [], 64)).toBe('none');
    expect(w([], [['a', t], ['a', t]])).toBe('E_ARG');
    expect(w([], [['x'.repeat(64), t]])).toBe('E_ARG'); // GGML_MAX_NAME is 64 with the NUL
    expect(w([], [['x'.repeat(63), t]])).toBe('none');
    expect(w([], [['a', { ...t, shape: [1, 1, 1, 1, 1] }]])).toBe('E_SHAPE');
    expect(w([], [['a', { ...t, shape: [2] }]])).toBe('E_SHAPE');
  });
});

describe('gguf bad input', () => {
  const tiny = () => new B().header(1, 0).info('t', [2], GGML.F32, 0).pad(32).f32s(1, 2);

  it('checks magic and version', () => {
    expect(codeOf(() => open(new Uint8Array([0x47, 0x47])))).toBe('E_TRUNCATED');
    const b = tiny().bytes();
    expect(codeOf(() => open(b))).toBe('none');
    expect(codeOf(() => open(Uint8Array.from(b, (x, i) => (i === 3 ? 0x4c : x))))).toBe('E_MAGIC'); // "GGUL"
    for (const v of [0, 1, 4, 0x03000000]) {
      const e = errorOf(() => open(new B().header(0, 0, v)));
      expect(e.code).toBe('E_VERSION');
      expect(e.location).toMatchObject({ file: 'm.gguf', offset: 4 });
    }
  });

  it('names unsupported tensor types', () => {
    const typed = (type: number) => new B().header(1, 0).info('blk.0.w', [32], type, 0).pad(32).raw(...new Array(256).fill(0));
    const e = errorOf(() => open(typed(GGML.Q4_0)));
    expect(e.code).toBe('E_GGUF_TYPE');
    expect(e.message).toContain('Q4_0');
    expect(e.location?.what).toBe('blk.0.w');
    expect(errorOf(() => open(typed(GGML.F64))).message).toContain('F64');
    expect(errorOf(() => open(typed(99))).code).toBe('E_GGUF_TYPE');
    expect(codeOf(() => open(typed(GGML.F16)))).toBe('none');
  });

  it('checks counts and lengths against the file size before allocating', () => {
    expect(codeOf(() => open(new B().header(0, 2n ** 60n)))).toBe('E_TOO_LARGE');
    expect(codeOf(() => open(new B().header(2n ** 60n, 0)))).toBe('E_TOO_LARGE');
    expect(codeOf(() => open(new B().header(0, 2n ** 64n - 1n)))).toBe('E_TOO_LARGE');
    expect(codeOf(() => open(new B().header(0, 2).str('a').u32(T.u8).raw(1)))).toBe('E_TRUNCATED');
    // A key whose length runs past the end, and one longer than the whole file.
    expect(codeOf(() => open(new B().header(0, 1).u64(40).raw(...new Array(30).fill(0x61))))).toBe('E_TRUNCATED');
    expect(codeOf(() => open(new B().header(0, 1).u64(2n ** 40n).raw(...new Array(20).fill(0x61))))).toBe('E_TOO_LARGE');
    expect(codeOf(() => open(new B().header(0, 1).str('k').u32(T.string).u64(2n ** 63n)))).toBe('E_TOO_LARGE');
    // An array of 10^12 items, of numbers and of strings.
    expect(codeOf(() => open(new B().header(0, 1).str('k').u32(T.array).u32(T.u8).u64(10n ** 12n)))).toBe('E_TOO_LARGE');
    expect(codeOf(() => open(new B().header(0, 1).str('k').u32(T.array).u32(T.string).u64(10n ** 12n)))).toBe('E_TOO_LARGE');
    expect(codeOf(() => open(new B().header(0, 1).str('k').u32(T.array).u32(T.i32).u64(3).u32(1)))).toBe('E_TRUNCATED');
  });

  it('rejects malformed metadata', () => {
    const kv = (...f: Array<(b: B) => B>) => f.reduce((b, g) => g(b), new B().header(0, f.length));
    expect(codeOf(() => open(kv((b) => b.str('k').u32(13).u32(0))))).toBe('E_HEADER'); // unknown type
    expect(codeOf(() => open(kv((b) => b.str('k').u32(T.array).u32(T.array).u64(0))))).toBe('E_HEADER'); // nested
    expect(codeOf(() => open(kv((b) => b.str('k').u32(T.u8).raw(1), (b) => b.str('k').u32(T.u8).raw(2))))).toBe('E_HEADER');
    expect(codeOf(() => open(kv((b) => b.str('').u32(T.u8).raw(1))))).toBe('E_HEADER');
    expect(codeOf(() => open(kv((b) => b.u64(2).raw(0xc3, 0x28).u32(T.u8).raw(1))))).toBe('E_HEADER'); // bad UTF-8
    expect(codeOf(() => open(kv((b) => b.str('general.alignment').u32(T.u32).u32(48))))).toBe('E_HEADER');
    expect(codeOf(() => open(kv((b) => b.str('general.alignment').u32(T.u32).u32(0))))).toBe('E_HEADER');
    expect(codeOf(() => open(kv((b) => b.str('general.alignment').u32(T.u64).u64(32))))).toBe('E_HEADER');
    const dup = new B().header(2, 0).info('t', [1], GGML.F32, 0).info('t', [1], GGML.F32, 32).pad(32).raw(...new Array(36).fill(0));
    expect(codeOf(() => open(dup))).toBe('E_HEADER');
  });

  it('checks shapes', () => {
    const shaped = (ne: Array<number | bigint>) => new B().header(1, 0).info('t', ne, GGML.F32, 0).pad(32).f32s(1, 2, 3, 4);
    expect(codeOf(() => open(shaped([1, 1, 1, 1, 1])))).toBe('E_SHAPE');
    expect(codeOf(() => open(new B().header(1, 0).str('t').u32(0xffffffff).raw(...new Array(64).fill(0))))).toBe('E_SHAPE');
    expect(codeOf(() => open(shaped([-1])))).toBe('E_SHAPE');
    expect(codeOf(() => open(shaped([2n ** 62n, 2n ** 62n])))).toBe('E_TOO_LARGE');
    expect(codeOf(() => open(shaped([10n ** 6n, 10n ** 6n])))).toBe('E_TOO_LARGE');
    expect(codeOf(() => open(shaped([2n ** 60n, 0])))).toBe('E_TOO_LARGE'); // not a safe JS number
    expect(codeOf(() => open(shaped([2, 2])))).toBe('none');
    expect(codeOf(() => open(shaped([5, 0, 7])))).toBe('none');
    expect(open(shaped([])).read('t').data).toEqual(new Float32Array([1]));
  });

  it('checks data offsets', () => {
    const at = (...offs: number[]) => {
      const b = new B().header(offs.length, 0);
      offs.forEach((o, i) => b.info(`t${i}`, [2], GGML.F32, o));
      return b.pad(32).raw(...new Array(72).fill(0));
    };
    expect(codeOf(() => open(at(0, 32)))).toBe('none');
    expect(codeOf(() => open(at(4)))).toBe('E_OFFSETS'); // misaligned
    expect(codeOf(() => open(at(0, 0)))).toBe('E_OFFSETS'); // overlapping
    expect(codeOf(() => open(at(2 ** 40)))).toBe('E_OFFSETS'); // past the end
    expect(codeOf(() => open(at(96)))).toBe('E_OFFSETS'); // past the end
    const last = at(64).bytes();
    expect(codeOf(() => open(last.subarray(0, last.length - 4)))).toBe('E_TRUNCATED'); // data runs off the end
    const e = errorOf(() => open(at(32, 32)));
    expect(e.location).toMatchObject({ file: 'm.gguf', what: 't1' });
  });

  it('reports truncation and missing tensors', () => {
    const good = writeGguf({
      metadata: [['general.architecture', gguf.str('mamba')]],
      tensors: [['w', { dtype: 'f32', shape: [16], data: new Float32Array(16) }]],
    });
    expect(codeOf(() => open(good.subarray(0, 30)))).toBe('E_TRUNCATED');
    expect(codeOf(() => open(good.subarray(0, good.length - 10)))).toBe('E_TRUNCATED');
    expect(codeOf(() => open(good).read('nope'))).toBe('E_MISSING_TENSOR');
  });
});
