// The packed C_n^4 weights file reader (specs/packed-weights.md): mutated, truncated
// and extended files, with the checksum left stale (the CRC must catch them) or fixed
// up (so the corruption reaches the table and segment checks), and hostile values in
// every header field. Files come from random graphs (cn4 annotations included) packed
// in both dtypes and several tile sizes.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fileChecksum, H, packWeights, readPackedWeights, unpack } from '../../src/backends/packed/index.ts';
import { arbGraph } from '../../src/testing/arbitraries.ts';
import { byteMutation, fcOptions, HOSTILE_U64, mutateBytes, Tally, typedOnly } from './harness.ts';

const LIMITS = { ms: 1000 };

const fileArb = fc
  .tuple(arbGraph({ maxNodes: 5 }), fc.constantFrom<'f32' | 'f16'>('f32', 'f16'), fc.integer({ min: 1, max: 5 }))
  .map(([g, dtype, tileRows]) => packWeights(g, { dtype, tileRows }).bytes)
  .filter((b) => b.length >= 64);

const resum = (b: Uint8Array): Uint8Array => {
  if (b.length >= 64) new DataView(b.buffer, b.byteOffset).setUint32(H.checksum, fileChecksum(b), true);
  return b;
};

function readAll(b: Uint8Array): void {
  const file = readPackedWeights(b, 'fuzz.bin');
  for (const t of file.tensors) unpack(file, t.name);
}

describe('packed weights fuzz', () => {
  it('byte mutations, truncations and extensions, checksum stale or fixed up', () => {
    const tally = new Tally();
    fc.assert(
      fc.property(fileArb, fc.array(byteMutation, { minLength: 1, maxLength: 4 }), fc.boolean(), fc.boolean(), (good, ms, headerOnly, fix) => {
        let b = mutateBytes(good, ms, headerOnly ? 200 : undefined);
        if (fix) b = resum(b);
        typedOnly(() => readAll(b), b.length, LIMITS, tally);
      }),
      fcOptions(1000),
    );
    // Unmutated-equivalent cases (a flip undone, a cut at the end) are the 'ok' ones.
    tally.expectCoverage(4);
  });

  it('hostile values in every header field, checksum fixed up', () => {
    const tally = new Tally();
    const fields = Object.entries(H).filter(([k]) => k !== 'magic' && k !== 'checksum');
    fc.assert(
      fc.property(fileArb, fc.constantFrom(...fields), fc.constantFrom(...HOSTILE_U64), (good, [, at], v) => {
        const b = good.slice();
        const dv = new DataView(b.buffer);
        // 64-bit fields are the sizes and offsets; the rest are u32.
        if ([H.fileSize, H.tableOffset, H.tableSize, H.dataOffset].includes(at as never)) dv.setBigUint64(at, v, true);
        else dv.setUint32(at, Number(BigInt.asUintN(32, v)), true);
        resum(b);
        typedOnly(() => readAll(b), b.length, LIMITS, tally);
      }),
      fcOptions(400),
    );
    expect(tally.errors).toBeGreaterThan(tally.cases / 2);
    expect(tally.outcomes.size).toBeGreaterThanOrEqual(4);
  });
});
