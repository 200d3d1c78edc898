// Shared rules of the fuzz suite: a reader fed mutated or truncated input may only
// fail with a typed SsmcError (never a TypeError, RangeError, stack overflow, hang or
// crash), every case finishes under a time bound, and no case allocates more than its
// input can justify. Each property records what its cases did so a test can also
// check that the mutations reached both the accepting and the rejecting paths (a fuzz
// test whose inputs are all rejected by the first check proves little).
import fc from 'fast-check';
import { expect } from 'vitest';
import { SsmcError, type ErrorCode } from '../../src/errors.ts';

export const SEED = Number(process.env.FC_SEED ?? 42);

/** Runs per property; FUZZ_RUNS scales them all (e.g. FUZZ_RUNS=10 for a long local hunt). */
export const runs = (n: number): number => Math.max(1, Math.round(n * Number(process.env.FUZZ_RUNS ?? 1)));

export const fcOptions = (numRuns: number): fc.Parameters<unknown> => ({ seed: SEED, numRuns: runs(numRuns), endOnFailure: true });

/**
 * Per-case time bounds catch hangs and super-linear work, not slowness: typical cases
 * take well under 10 ms, bounds are 100 ms to seconds, and CI machines are shared.
 * FUZZ_TIME_SCALE multiplies every bound (e.g. 4 under a sanitizer or heavy load).
 */
export const TIME_SCALE = Number(process.env.FUZZ_TIME_SCALE ?? 1);

export interface Limits {
  /** Wall-clock bound of one case, before FUZZ_TIME_SCALE. */
  readonly ms: number;
  /**
   * Bytes one case may grow the heap plus array buffers by: a fixed allowance for the
   * parser's own objects plus a multiple of the input's real size. A header that claims
   * 2^40 elements and gets them allocated blows through it (or throws a RangeError).
   */
  readonly baseBytes?: number;
  readonly perInputByte?: number;
}

export type Outcome = ErrorCode | 'ok';

/** What the cases of one property did: outcomes by code, slowest case, largest growth. */
export class Tally {
  /** By outcome: an error code or 'ok' (the CLI fuzz counts exit codes instead). */
  readonly outcomes = new Map<string, number>();
  slowestMs = 0;
  maxGrowth = 0;
  cases = 0;
  add(o: string, ms: number, growth: number): void {
    this.cases++;
    this.outcomes.set(o, (this.outcomes.get(o) ?? 0) + 1);
    this.slowestMs = Math.max(this.slowestMs, ms);
    this.maxGrowth = Math.max(this.maxGrowth, growth);
  }
  count(o: string): number {
    return this.outcomes.get(o) ?? 0;
  }
  get errors(): number {
    return this.cases - this.count('ok');
  }
  /** Both paths reached: some inputs accepted, some rejected, with at least `codes` distinct codes. */
  expectCoverage(codes = 2): void {
    expect(this.count('ok'), `no case was accepted: ${this.describe()}`).toBeGreaterThan(0);
    expect(this.outcomes.size - 1, `too few distinct error codes: ${this.describe()}`).toBeGreaterThanOrEqual(codes);
  }
  describe(): string {
    const codes = [...this.outcomes].map(([k, v]) => `${k}:${v}`).join(' ');
    return `${this.cases} cases, slowest ${this.slowestMs.toFixed(1)} ms, max growth ${(this.maxGrowth / 2 ** 20).toFixed(1)} MiB, ${codes}`;
  }
}

const memory = (): number => {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
};

function check(t0: number, m0: number, inputBytes: number, limits: Limits, tally: Tally, outcome: Outcome): void {
  const ms = performance.now() - t0;
  const growth = Math.max(0, memory() - m0);
  tally.add(outcome, ms, growth);
  const bound = limits.ms * TIME_SCALE;
  expect(ms, `case took ${ms.toFixed(1)} ms (bound ${bound} ms)`).toBeLessThan(bound);
  const allowed = (limits.baseBytes ?? 64 * 2 ** 20) + (limits.perInputByte ?? 16) * inputBytes;
  expect(growth, `case grew memory by ${growth} bytes for a ${inputBytes}-byte input (allowed ${allowed})`).toBeLessThan(allowed);
}

function classify(e: unknown): Outcome {
  if (e instanceof SsmcError) {
    // A typed error carries one of the declared codes and a message.
    expect(typeof e.code).toBe('string');
    expect(e.message.length).toBeGreaterThan(0);
    return e.code;
  }
  throw e; // anything else (TypeError, RangeError, ...) fails the property with its stack
}

/** Runs one case of a synchronous reader under the suite's rules; returns its outcome. */
export function typedOnly(f: () => unknown, inputBytes: number, limits: Limits, tally: Tally): Outcome {
  const m0 = memory();
  const t0 = performance.now();
  let outcome: Outcome;
  try {
    f();
    outcome = 'ok';
  } catch (e) {
    outcome = classify(e);
  }
  check(t0, m0, inputBytes, limits, tally, outcome);
  return outcome;
}

/** The asynchronous form (the CLI). */
export async function typedOnlyAsync(f: () => Promise<unknown>, inputBytes: number, limits: Limits, tally: Tally): Promise<Outcome> {
  const m0 = memory();
  const t0 = performance.now();
  let outcome: Outcome;
  try {
    await f();
    outcome = 'ok';
  } catch (e) {
    outcome = classify(e);
  }
  check(t0, m0, inputBytes, limits, tally, outcome);
  return outcome;
}

// --- byte mutations shared by the binary readers ---------------------------------------

/** Values that break length, count and offset fields in interesting ways. */
export const HOSTILE_U64: readonly bigint[] = [0n, 1n, 7n, 0xffn, 0xffffffffn, 0x1_0000_0000n, 2n ** 31n, 2n ** 40n, 2n ** 53n + 1n, 2n ** 62n, 2n ** 63n, 2n ** 64n - 1n];

export type ByteMutation =
  | { readonly kind: 'flip'; readonly at: number; readonly bit: number }
  | { readonly kind: 'set'; readonly at: number; readonly value: number }
  | { readonly kind: 'u32'; readonly at: number; readonly value: number }
  | { readonly kind: 'u64'; readonly at: number; readonly value: bigint }
  | { readonly kind: 'splice'; readonly from: number; readonly to: number; readonly length: number }
  | { readonly kind: 'delete'; readonly at: number; readonly length: number }
  | { readonly kind: 'insert'; readonly at: number; readonly bytes: Uint8Array }
  | { readonly kind: 'truncate'; readonly at: number };

export const byteMutation: fc.Arbitrary<ByteMutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('u32' as const), at: fc.nat(), value: fc.oneof(fc.constantFrom(0, 1, 0xff, 0xffff, 0x7fffffff, 0xffffffff, 64, 4096), fc.nat()) }),
  fc.record({ kind: fc.constant('u64' as const), at: fc.nat(), value: fc.constantFrom(...HOSTILE_U64) }),
  fc.record({ kind: fc.constant('splice' as const), from: fc.nat(), to: fc.nat(), length: fc.integer({ min: 1, max: 64 }) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 32 }) }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
);

/**
 * Applies mutations to a copy of `input`. Positions are taken modulo `focus` (the
 * header, say) when given, so most edits land where the parsing happens.
 */
export function mutateBytes(input: Uint8Array, ms: readonly ByteMutation[], focus?: number): Uint8Array {
  let b = input.slice();
  const span = () => Math.max(1, Math.min(b.length, focus ?? b.length));
  for (const m of ms) {
    if (b.length === 0 && m.kind !== 'insert') continue;
    const at = 'at' in m ? m.at % span() : 0;
    const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
    switch (m.kind) {
      case 'flip': b[at] ^= 1 << m.bit; break;
      case 'set': b[at] = m.value; break;
      case 'u32': if (b.length >= 4) dv.setUint32(Math.min(at, b.length - 4), m.value >>> 0, true); break;
      case 'u64': if (b.length >= 8) dv.setBigUint64(Math.min(at, b.length - 8), m.value, true); break;
      case 'splice': {
        // Copy a run of bytes over another place (duplicated records, shifted fields).
        const from = m.from % b.length;
        const chunk = b.slice(from, from + m.length);
        const to = m.to % span();
        b.set(chunk.subarray(0, b.length - to), to);
        break;
      }
      case 'delete': b = Uint8Array.from([...b.subarray(0, at), ...b.subarray(at + m.length)]); break;
      case 'insert': b = Uint8Array.from([...b.subarray(0, at), ...m.bytes, ...b.subarray(at)]); break;
      case 'truncate': b = b.slice(0, m.at % (b.length + 1)); break;
    }
  }
  return b;
}

/** A cut: none, or somewhere in the input. */
export const truncation = fc.option(fc.nat(), { nil: undefined });
export const cut = (b: Uint8Array, at: number | undefined): Uint8Array => (at === undefined ? b : b.subarray(0, at % (b.length + 1)));

/** Text edits for the text readers (IR, pipelines, JSON): delete, insert, splice, truncate. */
export type TextMutation =
  | { readonly kind: 'delete'; readonly at: number; readonly length: number }
  | { readonly kind: 'insert'; readonly at: number; readonly text: string }
  | { readonly kind: 'splice'; readonly from: number; readonly to: number; readonly length: number }
  | { readonly kind: 'number'; readonly nth: number; readonly text: string }
  | { readonly kind: 'truncate'; readonly at: number };

/** Replacements for a number in a text: out of range, negative, non-integer, huge. */
export const HOSTILE_NUMBERS = ['0', '-1', '1.5', '1e400', '-1e400', '1e-400', '9007199254740993', '4294967296', '1099511627776', '99999999999999999999999', 'NaN', 'Infinity', '0x10', '1e3', '-0', ''];

export function textMutation(tokens: readonly string[]): fc.Arbitrary<TextMutation> {
  return fc.oneof(
    fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 12 }) }),
    fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), text: fc.oneof(fc.constantFrom(...tokens), fc.string({ maxLength: 4 })) }),
    fc.record({ kind: fc.constant('splice' as const), from: fc.nat(), to: fc.nat(), length: fc.integer({ min: 1, max: 40 }) }),
    fc.record({ kind: fc.constant('number' as const), nth: fc.nat(), text: fc.constantFrom(...HOSTILE_NUMBERS) }),
    fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  );
}

export function mutateText(input: string, ms: readonly TextMutation[]): string {
  let s = input;
  for (const m of ms) {
    const n = s.length + 1;
    switch (m.kind) {
      case 'delete': { const at = m.at % n; s = s.slice(0, at) + s.slice(at + m.length); break; }
      case 'insert': { const at = m.at % n; s = s.slice(0, at) + m.text + s.slice(at); break; }
      case 'splice': {
        const from = m.from % n;
        const to = m.to % n;
        s = s.slice(0, to) + s.slice(from, from + m.length) + s.slice(to);
        break;
      }
      case 'number': {
        const nums = [...s.matchAll(/-?\d+(\.\d+)?(e-?\d+)?/g)];
        if (nums.length === 0) break;
        const hit = nums[m.nth % nums.length];
        s = s.slice(0, hit.index) + m.text + s.slice(hit.index + hit[0].length);
        break;
      }
      case 'truncate': s = s.slice(0, m.at % n); break;
    }
  }
  return s;
}
