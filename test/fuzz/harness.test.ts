// The fuzz harness itself can fail: an untyped error, a slow case and an allocation the
// input cannot justify are each caught (otherwise every fuzz property would pass vacuously).
import { describe, expect, it } from 'vitest';
import { SsmcError } from '../../src/errors.ts';
import { mutateBytes, mutateText, Tally, typedOnly } from './harness.ts';

describe('fuzz harness', () => {
  it('passes typed errors and successes through as outcomes', () => {
    const t = new Tally();
    expect(typedOnly(() => 1, 0, { ms: 1000 }, t)).toBe('ok');
    expect(typedOnly(() => { throw new SsmcError('E_HEADER', 'bad'); }, 0, { ms: 1000 }, t)).toBe('E_HEADER');
    expect([t.count('ok'), t.count('E_HEADER'), t.errors]).toEqual([1, 1, 1]);
  });

  it('rethrows anything that is not an SsmcError', () => {
    expect(() => typedOnly(() => { throw new RangeError('Maximum call stack size exceeded'); }, 0, { ms: 1000 }, new Tally())).toThrow(RangeError);
    expect(() => typedOnly(() => (null as unknown as { x: number }).x, 0, { ms: 1000 }, new Tally())).toThrow(TypeError);
  });

  it('fails a case over its time bound', () => {
    const spin = () => { const end = performance.now() + 30; while (performance.now() < end); };
    expect(() => typedOnly(spin, 0, { ms: 5 }, new Tally())).toThrow(/bound/);
  });

  it('fails a case that allocates far more than its input justifies', () => {
    let keep: Uint8Array | undefined;
    expect(() => typedOnly(() => { keep = new Uint8Array(256 * 2 ** 20).fill(1); }, 100, { ms: 10_000 }, new Tally())).toThrow(/grew memory/);
    expect(keep?.length).toBe(256 * 2 ** 20);
  });

  it('mutations change their input and never modify it in place', () => {
    const input = new Uint8Array(64).map((_, i) => i);
    const out = mutateBytes(input, [{ kind: 'set', at: 3, value: 200 }, { kind: 'truncate', at: 40 }]);
    expect([out[3], out.length, input[3], input.length]).toEqual([200, 40, 3, 64]);
    expect(mutateText('abc 12 def', [{ kind: 'number', nth: 0, text: '1e400' }])).toBe('abc 1e400 def');
  });
});
