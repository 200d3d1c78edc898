import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { SsmcError, type ErrorCode } from '../../src/errors.ts';
import { fileSource, memorySource } from '../../src/frontend/bytes.ts';
import type { RawTensor } from '../../src/frontend/raw-tensor.ts';
import { rawTensorArb } from '../helpers/raw-tensors.ts';
import {
  openSafetensors, writeSafetensors, writeSafetensorsFile, type LazyTensor,
} from '../../src/frontend/safetensors.ts';

const SEED = Number(process.env.FC_SEED ?? 42);
const dir = mkdtempSync(join(tmpdir(), 'ssmc-st-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const bytesOf = (t: RawTensor) => new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);

const tensorArb = rawTensorArb(4);

const tensorsArb = fc.uniqueArray(fc.tuple(fc.string({ minLength: 1, maxLength: 6 }), tensorArb), {
  selector: ([name]) => name,
  maxLength: 5,
}).map((ts) => ts.filter(([name]) => name !== '__metadata__'));

/** A safetensors file built by hand: header JSON exactly as given (no padding), then data. */
function stFile(json: string, data: number[] | Uint8Array = []): Uint8Array {
  const header = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + header.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(header.length), true);
  out.set(header, 8);
  out.set(data, 8 + header.length);
  return out;
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

const open = (bytes: Uint8Array) => openSafetensors(memorySource(bytes, 'x.safetensors'));
const entry = (dtype: string, shape: number[], offs: [number, number]) =>
  JSON.stringify({ dtype, shape, data_offsets: offs });

describe('safetensors layout', () => {
  it('writes the exact bytes of a one-tensor file', () => {
    // Worked out by hand from the spec: the JSON below is 54 bytes, padded with two spaces
    // to 56 (a multiple of 8); 1.0f = 00 00 80 3f and -2.0f = 00 00 00 c0.
    const json = '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}  ';
    const expected = new Uint8Array([
      56, 0, 0, 0, 0, 0, 0, 0,
      ...[...json].map((ch) => ch.charCodeAt(0)),
      0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0xc0,
    ]);
    const got = writeSafetensors([['a', { dtype: 'f32', shape: [2], data: new Float32Array([1, -2]) }]]);
    expect(got).toEqual(expected);
    expect(got.length).toBe(72);
  });

  it('writes __metadata__ first and keeps tensor order, even for integer-like names', () => {
    const t = (v: number): RawTensor => ({ dtype: 'f32', shape: [1], data: new Float32Array([v]) });
    const bytes = writeSafetensors([['b', t(1)], ['10', t(2)], ['2', t(3)]], { format: 'pt' });
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    const json = new TextDecoder().decode(bytes.subarray(8, 8 + n));
    expect(json.trimEnd()).toBe(
      '{"__metadata__":{"format":"pt"},"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},' +
        '"10":{"dtype":"F32","shape":[1],"data_offsets":[4,8]},"2":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}',
    );
    expect((8 + n) % 8).toBe(0);
    expect([...open(bytes).entries.keys()]).toEqual(['b', '10', '2']);
  });

  it('reads a hand-built file with unaligned data of every supported dtype', () => {
    // Header padded to 193 bytes: data starts at 201, so the f32 sits at an odd offset.
    let json = `{"h":${entry('F16', [1, 2], [0, 4])},"f":${entry('F32', [], [4, 8])},"b":${entry('BF16', [1], [8, 10])},"__metadata__":{"k":"v"}}`;
    expect(json.length).toBe(188);
    json = json.padEnd(193, ' ');
    const data = [0x00, 0x3c, 0x00, 0xc0, 0x00, 0x00, 0xc0, 0x3f, 0x80, 0x3f];
    const f = open(stFile(json, data));
    expect(f.metadata).toEqual({ k: 'v' });
    expect(f.entries.get('f')).toEqual({ dtype: 'f32', shape: [], begin: 201 + 4, end: 201 + 8 });
    expect(f.read('h')).toEqual({ dtype: 'f16', shape: [1, 2], data: new Uint16Array([0x3c00, 0xc000]) });
    expect(f.read('f')).toEqual({ dtype: 'f32', shape: [], data: new Float32Array([1.5]) });
    expect(f.read('b')).toEqual({ dtype: 'bf16', shape: [1], data: new Uint16Array([0x3f80]) });
  });
});

describe('safetensors round trip', () => {
  it('reads back what it writes (random tensors, 0-d and empty dims included)', () => {
    fc.assert(
      fc.property(tensorsArb, fc.dictionary(fc.string(), fc.string(), { maxKeys: 3 }), (tensors, metadata) => {
        const f = open(writeSafetensors(tensors, metadata));
        expect(f.metadata).toEqual(metadata);
        expect(f.entries.size).toBe(tensors.length);
        for (const [name, t] of tensors) {
          const back = f.read(name);
          expect(back.dtype).toBe(t.dtype);
          expect(back.shape).toEqual(t.shape);
          expect(bytesOf(back)).toEqual(bytesOf(t));
        }
      }),
      { seed: SEED, numRuns: 150 },
    );
  });

  it('streams to a file atomically, loading lazy tensors one at a time', () => {
    const path = join(dir, 'lazy.safetensors');
    const loaded: string[] = [];
    const lazy = (name: string, v: number): [string, LazyTensor] => [name, {
      dtype: 'f32', shape: [2, 2], load: () => (loaded.push(name), new Float32Array(4).fill(v)),
    }];
    writeSafetensorsFile(path, [lazy('x', 1), lazy('y', 2)], { m: '1' });
    expect(loaded).toEqual(['x', 'y']);
    const src = fileSource(path);
    try {
      const f = openSafetensors(src);
      expect(Array.from(f.read('y').data)).toEqual([2, 2, 2, 2]);
      expect(f.metadata).toEqual({ m: '1' });
    } finally {
      src.close();
    }
    const mem = writeSafetensors([lazy('x', 1), lazy('y', 2)], { m: '1' });
    expect(new Uint8Array(readFileSync(path))).toEqual(mem);
    expect(readdirSync(dir)).toEqual(['lazy.safetensors']);
  });

  it('leaves no file (and keeps an old one) when writing fails midway', () => {
    const path = join(dir, 'fail.safetensors');
    writeFileSync(path, 'old');
    const bad: LazyTensor = { dtype: 'f32', shape: [3], load: () => new Float32Array(2) };
    const ok: RawTensor = { dtype: 'f32', shape: [1], data: new Float32Array(1) };
    expect(codeOf(() => writeSafetensorsFile(path, [['ok', ok], ['bad', bad]]))).toBe('E_SHAPE');
    expect(readFileSync(path, 'utf8')).toBe('old');
    expect(readdirSync(dir).filter((n) => n.includes('fail'))).toEqual(['fail.safetensors']);
    expect(codeOf(() => writeSafetensorsFile(join(dir, 'no/such/dir/x.st'), [['ok', ok]]))).toBe('E_IO');
    expect(existsSync(join(dir, 'no'))).toBe(false);
  });

  it('rejects bad writer input', () => {
    const t: RawTensor = { dtype: 'f32', shape: [2], data: new Float32Array(2) };
    expect(codeOf(() => writeSafetensors([['a', t], ['a', t]]))).toBe('E_ARG');
    expect(codeOf(() => writeSafetensors([['__metadata__', t]]))).toBe('E_ARG');
    expect(codeOf(() => writeSafetensors([['a', { ...t, shape: [3] }]]))).toBe('E_SHAPE');
    expect(codeOf(() => writeSafetensors([['a', { ...t, shape: [-1] }]]))).toBe('E_SHAPE');
    expect(codeOf(() => writeSafetensors([['a', { ...t, dtype: 'f16' }]]))).toBe('E_DTYPE');
    expect(codeOf(() => writeSafetensors([['a', t]], { k: 1 as unknown as string }))).toBe('E_ARG');
  });
});

describe('safetensors bad input', () => {
  const one = (e: string, data: number[] = [0, 0, 0, 0, 0, 0, 0, 0]) => stFile(`{"t":${e}}`, data);

  it('rejects truncated files and bad header lengths', () => {
    expect(codeOf(() => open(new Uint8Array(5)))).toBe('E_TRUNCATED');
    const len = (n: bigint, rest = 50) => {
      const b = new Uint8Array(8 + rest).fill(0x20);
      new DataView(b.buffer).setBigUint64(0, n, true);
      return b;
    };
    expect(codeOf(() => open(len(100n)))).toBe('E_TRUNCATED'); // header length past the end
    expect(codeOf(() => open(len(2n ** 63n)))).toBe('E_TOO_LARGE');
    expect(codeOf(() => open(len(100_000_001n)))).toBe('E_TOO_LARGE');
    const good = writeSafetensors([['t', { dtype: 'f32', shape: [4], data: new Float32Array(4) }]]);
    expect(codeOf(() => open(good.subarray(0, 30)))).toBe('E_TRUNCATED'); // cut in the header
    expect(codeOf(() => open(good.subarray(0, good.length - 1)))).toBe('E_OFFSETS'); // cut in the data
  });

  it('rejects malformed headers', () => {
    expect(codeOf(() => open(stFile('{"t":')))).toBe('E_HEADER');
    expect(codeOf(() => open(stFile('[1,2]')))).toBe('E_HEADER');
    expect(codeOf(() => open(stFile('null')))).toBe('E_HEADER');
    const badUtf8 = stFile('{"t":{}} ');
    badUtf8[9] = 0xff;
    expect(codeOf(() => open(badUtf8))).toBe('E_HEADER');
    expect(codeOf(() => open(stFile('{"t":3}')))).toBe('E_HEADER');
    expect(codeOf(() => open(stFile('{"__metadata__":{"a":1}}')))).toBe('E_HEADER');
    expect(codeOf(() => open(stFile('{"__metadata__":["a"]}')))).toBe('E_HEADER');
    expect(codeOf(() => open(one(entry('F32', [-2], [0, 8]))))).toBe('E_HEADER');
    expect(codeOf(() => open(one(entry('F32', [1.5], [0, 8]))))).toBe('E_HEADER');
    expect(codeOf(() => open(one('{"dtype":"F32","shape":[2]}')))).toBe('E_HEADER');
    expect(codeOf(() => open(one('{"dtype":"F32","shape":[2],"data_offsets":[0,"8"]}')))).toBe('E_HEADER');
    expect(codeOf(() => open(one('{"dtype":7,"shape":[2],"data_offsets":[0,8]}')))).toBe('E_HEADER');
  });

  it('names unsupported and unknown dtypes', () => {
    for (const dt of ['F64', 'I64', 'I32', 'I8', 'U8', 'BOOL', 'F8_E4M3']) {
      const e = (() => { try { open(one(entry(dt, [2], [0, 8]))); } catch (x) { return x as SsmcError; } })();
      expect(e?.code).toBe('E_DTYPE');
      expect(e?.message).toContain(`unsupported dtype ${dt} for tensor t`);
      expect(e?.location).toMatchObject({ file: 'x.safetensors', offset: 8, what: 't' });
    }
    expect(codeOf(() => open(one(entry('Q4', [2], [0, 8]))))).toBe('E_DTYPE');
    expect(codeOf(() => open(one(entry('toString', [2], [0, 8]))))).toBe('E_DTYPE');
  });

  it('checks offsets and sizes', () => {
    expect(codeOf(() => open(one(entry('F32', [3], [0, 8]))))).toBe('E_SHAPE');
    expect(codeOf(() => open(one(entry('F16', [2], [0, 8]))))).toBe('E_SHAPE');
    expect(codeOf(() => open(one(entry('F32', [4], [0, 16]))))).toBe('E_OFFSETS'); // past the data
    expect(codeOf(() => open(one(entry('F32', [0], [8, 4]))))).toBe('E_OFFSETS'); // begin > end
    expect(codeOf(() => open(one(entry('F32', [1], [-4, 0]))))).toBe('E_OFFSETS');
    const two = (a: [number, number], b: [number, number]) =>
      stFile(`{"a":${entry('F32', [1], a)},"b":${entry('F32', [1], b)}}`, new Array(12).fill(0));
    expect(codeOf(() => open(two([0, 4], [2, 6])))).toBe('E_OFFSETS');
    expect(codeOf(() => open(two([4, 8], [4, 8])))).toBe('E_OFFSETS');
    expect(codeOf(() => open(two([4, 8], [0, 4])))).toBe('none');
    // An empty tensor occupies no bytes, so it may sit anywhere in range.
    expect(codeOf(() => open(stFile(`{"a":${entry('F32', [2], [0, 8])},"e":${entry('F32', [0, 5], [4, 4])}}`, new Array(8).fill(0))))).toBe('none');
  });

  it('refuses a tiny file claiming an enormous tensor before allocating', () => {
    const e = (() => { try { open(one(entry('F32', [1_000_000, 1_000_000], [0, 4e12]))); } catch (x) { return x as SsmcError; } })();
    expect(e?.code).toBe('E_TOO_LARGE');
    expect(e?.location?.what).toBe('t');
    expect(codeOf(() => open(one(entry('F32', [2 ** 30, 2 ** 30, 2 ** 30], [0, 8]))))).toBe('E_TOO_LARGE');
    expect(codeOf(() => open(one(entry('F32', [Number.MAX_SAFE_INTEGER, 0], [0, 0]))))).toBe('none');
  });

  it('reports a missing tensor', () => {
    expect(codeOf(() => open(writeSafetensors([])).read('nope'))).toBe('E_MISSING_TENSOR');
  });
});
