// GGUF reader: byte mutations of whole files (metadata-biased), and field edits at the
// exact places of counts, string lengths, array lengths, value and tensor types, dims
// and data offsets (found by an independent builder that records where it put them),
// so hostile values reach every check rather than dying at the magic.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { memorySource } from '../../src/frontend/bytes.ts';
import { openGguf } from '../../src/frontend/gguf.ts';
import { byteMutation, cut, fcOptions, HOSTILE_U64, mutateBytes, Tally, truncation, typedOnly } from './harness.ts';

const LIMITS = { ms: 1000 };

type Width = 4 | 8;
interface Field { readonly at: number; readonly width: Width; readonly what: string }

/**
 * A GGUF v3 writer for test files, from llama.cpp's gguf.h (written independently of
 * src/frontend/gguf.ts), that remembers the offset of every length-like field.
 */
class GgufBuilder {
  private out: number[] = [];
  readonly fields: Field[] = [];
  private field(width: Width, what: string, v: bigint | number) {
    this.fields.push({ at: this.out.length, width, what });
    return width === 4 ? this.u32(Number(v)) : this.u64(v);
  }
  raw(...b: number[]) { this.out.push(...b); return this; }
  u32(v: number) { return this.raw(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff); }
  u64(v: bigint | number) {
    let x = BigInt.asUintN(64, BigInt(v));
    for (let i = 0; i < 8; i++, x >>= 8n) this.out.push(Number(x & 0xffn));
    return this;
  }
  str(s: string, what: string) {
    const b = new TextEncoder().encode(s);
    return this.field(8, `${what} length`, b.length).raw(...b);
  }
  header(nTensors: number, nKv: number) {
    this.raw(0x47, 0x47, 0x55, 0x46).field(4, 'version', 3);
    return this.field(8, 'tensor count', nTensors).field(8, 'kv count', nKv);
  }
  kvU32(key: string, v: number) { return this.str(key, 'key').field(4, 'value type', 4).u32(v); }
  kvStr(key: string, v: string) { return this.str(key, 'key').field(4, 'value type', 8).str(v, 'value'); }
  kvArray(key: string, items: readonly string[]) {
    this.str(key, 'key').field(4, 'value type', 9).field(4, 'item type', 8).field(8, 'array count', items.length);
    for (const s of items) this.str(s, 'item');
    return this;
  }
  kvU32Array(key: string, items: readonly number[]) {
    this.str(key, 'key').field(4, 'value type', 9).field(4, 'item type', 4).field(8, 'array count', items.length);
    for (const v of items) this.u32(v);
    return this;
  }
  info(name: string, ne: readonly number[], type: number, offset: number) {
    this.str(name, 'tensor name').field(4, 'n_dims', ne.length);
    for (const d of ne) this.field(8, 'ne', d);
    return this.field(4, 'ggml type', type).field(8, 'data offset', offset);
  }
  pad(a: number) { while (this.out.length % a) this.out.push(0); return this; }
  bytes() { return new Uint8Array(this.out); }
}

interface Spec {
  readonly strings: Array<[string, string]>;
  readonly arrays: Array<[string, string[]]>;
  readonly numbers: number[];
  /** Tensors: ne (GGUF order) and type 0 (F32) or 1 (F16). */
  readonly tensors: Array<{ ne: number[]; type: 0 | 1 }>;
  readonly alignment: 8 | 32 | 64;
}

const specArb: fc.Arbitrary<Spec> = fc.record({
  strings: fc.array(fc.tuple(fc.string({ minLength: 1, maxLength: 8 }), fc.string({ maxLength: 8 })), { maxLength: 3 }),
  arrays: fc.array(fc.tuple(fc.string({ minLength: 1, maxLength: 8 }), fc.array(fc.string({ maxLength: 4 }), { maxLength: 4 })), { maxLength: 2 }),
  numbers: fc.array(fc.nat({ max: 1000 }), { maxLength: 4 }),
  tensors: fc.array(fc.record({ ne: fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 3 }), type: fc.constantFrom<0 | 1>(0, 1) }), { minLength: 1, maxLength: 4 }),
  alignment: fc.constantFrom<8 | 32 | 64>(8, 32, 64),
});

function build(s: Spec): GgufBuilder {
  const b = new GgufBuilder();
  const nKv = 3 + s.strings.length + s.arrays.length;
  b.header(s.tensors.length, nKv).kvStr('general.architecture', 'mamba').kvU32('general.alignment', s.alignment).kvU32Array('numbers', s.numbers);
  s.strings.forEach(([k, v], i) => b.kvStr(`s${i}.${k}`, v));
  s.arrays.forEach(([k, v], i) => b.kvArray(`a${i}.${k}`, v));
  let offset = 0;
  const sizes = s.tensors.map((t) => t.ne.reduce((x, y) => x * y, 1) * (t.type === 0 ? 4 : 2));
  s.tensors.forEach((t, i) => {
    b.info(`t${i}`, t.ne, t.type, offset);
    offset += Math.ceil(sizes[i] / s.alignment) * s.alignment;
  });
  b.pad(s.alignment);
  sizes.forEach((n, i) => {
    for (let k = 0; k < n; k++) b.raw((k * 31 + i) & 0x3f);
    b.pad(s.alignment);
  });
  return b;
}

function readAll(bytes: Uint8Array): void {
  const f = openGguf(memorySource(bytes, 'fuzz.gguf'));
  for (const name of f.tensors.keys()) f.read(name);
}

describe('gguf fuzz', () => {
  it('the test builder writes files the reader accepts (the field edits start from valid files)', () => {
    fc.assert(fc.property(specArb, (s) => void readAll(build(s).bytes())), fcOptions(100));
  });

  it('byte mutations and truncations (metadata-biased): typed errors only, fast, bounded memory', () => {
    const tally = new Tally();
    fc.assert(
      fc.property(specArb, fc.array(byteMutation, { maxLength: 6 }), fc.boolean(), truncation, (s, ms, early, at) => {
        const b = build(s);
        const good = b.bytes();
        const metaEnd = b.fields.at(-1)!.at + 8;
        const bytes = cut(mutateBytes(good, ms, early ? metaEnd : undefined), at);
        typedOnly(() => readAll(bytes), bytes.length, LIMITS, tally);
      }),
      fcOptions(600),
    );
    tally.expectCoverage(3);
  });

  it('field edits: hostile counts, lengths, types, dims and offsets at their exact places', () => {
    const tally = new Tally();
    const edit = fc.record({
      field: fc.nat(),
      value: fc.oneof(fc.constantFrom(...HOSTILE_U64), fc.bigInt({ min: 0n, max: 64n })),
    });
    const whats = new Set<string>();
    fc.assert(
      fc.property(specArb, fc.array(edit, { minLength: 1, maxLength: 3 }), (s, edits) => {
        const b = build(s);
        const bytes = b.bytes();
        const dv = new DataView(bytes.buffer);
        for (const e of edits) {
          const f = b.fields[e.field % b.fields.length];
          whats.add(f.what);
          if (f.width === 4) dv.setUint32(f.at, Number(BigInt.asUintN(32, e.value)), true);
          else dv.setBigUint64(f.at, e.value, true);
        }
        typedOnly(() => readAll(bytes), bytes.length, LIMITS, tally);
      }),
      fcOptions(800),
    );
    tally.expectCoverage(5);
    for (const w of ['tensor count', 'kv count', 'key length', 'value type', 'array count', 'n_dims', 'ne', 'ggml type', 'data offset']) expect(whats).toContain(w);
    expect(tally.count('E_TOO_LARGE') + tally.count('E_TRUNCATED')).toBeGreaterThan(0);
  });
});
