// safetensors reader: byte mutations of whole files, text edits inside the JSON header,
// and field edits (huge shapes, offsets and header lengths, wrong dtypes) re-encoded
// into a well-formed file so they reach the checks behind the JSON parser.
import fc from 'fast-check';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fileSource, memorySource } from '../../src/frontend/bytes.ts';
import { openSafetensors, writeSafetensors } from '../../src/frontend/safetensors.ts';
import { byteMutation, cut, fcOptions, mutateBytes, Tally, truncation, typedOnly } from './harness.ts';
import { rawTensorArb } from '../helpers/raw-tensors.ts';

const LIMITS = { ms: 1000 };
const dir = mkdtempSync(join(tmpdir(), 'ssmc-fuzz-st-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const tensorArb = rawTensorArb(4);

const tensorsArb = fc
  .uniqueArray(fc.tuple(fc.string({ minLength: 1, maxLength: 6 }), tensorArb), { selector: ([name]) => name, minLength: 1, maxLength: 5 })
  .map((ts) => ts.filter(([name]) => name !== '__metadata__'));

/** Reads everything a loader would: the header, then every tensor. */
function readAll(bytes: Uint8Array): void {
  const f = openSafetensors(memorySource(bytes, 'fuzz.safetensors'));
  for (const name of f.entries.keys()) f.read(name);
}

function headerOf(file: Uint8Array): { json: Record<string, unknown>; data: Uint8Array } {
  const len = Number(new DataView(file.buffer, file.byteOffset).getBigUint64(0, true));
  return { json: JSON.parse(new TextDecoder().decode(file.subarray(8, 8 + len))), data: file.subarray(8 + len) };
}

function withHeader(json: unknown, data: Uint8Array, lengthOverride?: bigint): Uint8Array {
  const header = new TextEncoder().encode(JSON.stringify(json));
  const out = new Uint8Array(8 + header.length + data.length);
  new DataView(out.buffer).setBigUint64(0, lengthOverride ?? BigInt(header.length), true);
  out.set(header, 8);
  out.set(data, 8 + header.length);
  return out;
}

const hostileValue = fc.oneof(
  fc.constantFrom<unknown>(null, true, 'F32', 'F64', 'I64', 'Q4', '', 'toString', '__proto__', -1, 1.5, 2 ** 40, 2 ** 53, 1e308, [], {}, [0], [0, 0, 0]),
  fc.array(fc.constantFrom(0, 1, 3, -1, 2 ** 20, 2 ** 30, 2 ** 40, 2 ** 53 - 1, 2 ** 53, 1e300, 0.5), { maxLength: 5 }),
);
const fieldEdit = fc.record({
  entry: fc.nat(),
  field: fc.constantFrom('dtype', 'shape', 'data_offsets', 'extra', 'delete', 'replace'),
  value: hostileValue,
});

describe('safetensors fuzz', () => {
  it('byte mutations and truncations (header-biased): typed errors only, fast, bounded memory', () => {
    const tally = new Tally();
    fc.assert(
      fc.property(tensorsArb, fc.array(byteMutation, { maxLength: 6 }), fc.boolean(), truncation, (tensors, ms, headerOnly, at) => {
        const good = writeSafetensors(tensors, { a: 'b' });
        const headerEnd = 8 + Number(new DataView(good.buffer).getBigUint64(0, true));
        const bytes = cut(mutateBytes(good, ms, headerOnly ? headerEnd : undefined), at);
        typedOnly(() => readAll(bytes), bytes.length, LIMITS, tally);
      }),
      fcOptions(600),
    );
    tally.expectCoverage(3);
  });

  it('JSON-level text edits inside the header', () => {
    const tally = new Tally();
    const jsonish = fc.constantFrom(...'{}[]":,0123456789-e.FBI ', '1e400', '9007199254740993', 'null', '"F16"', '[0,8]', '\\u0000', '\uffff');
    fc.assert(
      fc.property(tensorsArb, fc.array(fc.tuple(fc.nat(), jsonish), { minLength: 1, maxLength: 6 }), (tensors, edits) => {
        const good = writeSafetensors(tensors);
        const headerEnd = 8 + Number(new DataView(good.buffer).getBigUint64(0, true));
        const bytes = good.slice();
        for (const [pos, text] of edits) {
          const at = 8 + (pos % (headerEnd - 8));
          bytes.set(new TextEncoder().encode(text).subarray(0, bytes.length - at), at);
        }
        typedOnly(() => readAll(bytes), bytes.length, LIMITS, tally);
      }),
      fcOptions(400),
    );
    tally.expectCoverage(2);
  });

  it('field edits: huge shapes, offsets and header lengths, wrong dtypes, missing or extra keys', () => {
    const tally = new Tally();
    const lengths = fc.option(fc.constantFrom(0n, 1n, 2n ** 32n, 100_000_000n, 100_000_001n, 2n ** 63n, 2n ** 64n - 1n), { nil: undefined });
    fc.assert(
      fc.property(tensorsArb, fc.array(fieldEdit, { minLength: 1, maxLength: 3 }), lengths, (tensors, edits, len) => {
        const { json, data } = headerOf(writeSafetensors(tensors));
        const names = Object.keys(json);
        for (const e of edits) {
          const name = names[e.entry % names.length];
          const entry = { ...(json[name] as Record<string, unknown>) };
          if (e.field === 'delete') delete entry[Object.keys(entry)[e.entry % 3]];
          else if (e.field === 'replace') json[name] = e.value;
          else entry[e.field] = e.value;
          if (e.field !== 'replace') json[name] = entry;
        }
        const bytes = withHeader(json, data, len);
        typedOnly(() => readAll(bytes), bytes.length, LIMITS, tally);
      }),
      fcOptions(500),
    );
    tally.expectCoverage(4);
    // The edits the reader must refuse before allocating were generated.
    expect(tally.count('E_TOO_LARGE')).toBeGreaterThan(0);
  });

  it('the file reader (positioned reads) on mutated files on disk', () => {
    const tally = new Tally();
    let i = 0;
    fc.assert(
      fc.property(tensorsArb, fc.array(byteMutation, { maxLength: 4 }), (tensors, ms) => {
        const good = writeSafetensors(tensors);
        const headerEnd = 8 + Number(new DataView(good.buffer).getBigUint64(0, true));
        const path = join(dir, `f${i++}.safetensors`);
        const bytes = mutateBytes(good, ms, headerEnd);
        writeFileSync(path, bytes);
        typedOnly(() => {
          const src = fileSource(path);
          try {
            const f = openSafetensors(src);
            for (const name of f.entries.keys()) f.read(name);
          } finally {
            src.close();
          }
        }, bytes.length, LIMITS, tally);
      }),
      fcOptions(150),
    );
    tally.expectCoverage(2);
  });
});
