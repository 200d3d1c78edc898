// Pipeline strings (specs/pipeline.md): valid pipelines built from the registry's own
// passes and option specs, then mutated (deleted and inserted punctuation, splices,
// hostile numbers, truncation), plus arbitrary strings over the pipeline alphabet. The
// parser, the registry lookup and option conversion, and the PassManager constructor
// (which also re-prints the pipeline canonically) may fail only with E_PIPELINE.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SsmcError } from '../../src/errors.ts';
import { listPasses, PassManager, resolvePipeline } from '../../src/passes/index.ts';
import type { OptionSpec, PipelineValue } from '../../src/passes/index.ts';
import { fcOptions, mutateText, Tally, textMutation, typedOnly } from './harness.ts';

const LIMITS = { ms: 500 };

function valueArb(spec: OptionSpec): fc.Arbitrary<PipelineValue> {
  switch (spec.kind) {
    case 'int': return fc.integer({ min: spec.min ?? -5, max: Math.min(spec.max ?? 1000, 1000) });
    case 'float': return fc.double({ min: spec.min ?? -1, max: Math.min(spec.max ?? 10, 10), noNaN: true });
    case 'bool': return fc.boolean();
    case 'enum': return fc.constantFrom(...spec.values);
    default: return fc.string({ maxLength: 6 });
  }
}

const printValue = (v: PipelineValue) => (typeof v === 'string' ? JSON.stringify(v) : String(v));

/** A valid pipeline: registered passes with some of their options. */
const validPipeline: fc.Arbitrary<string> = fc
  .array(
    fc.constantFrom(...listPasses()).chain((p) => {
      const specs = Object.entries(p.options as Record<string, OptionSpec>);
      return fc.subarray(specs).chain((chosen) =>
        fc.tuple(...chosen.map(([k, s]) => valueArb(s).map((v) => `${k}=${printValue(v)}`))).map((opts) => (opts.length ? `${p.name}{${opts.join(' ')}}` : p.name)),
      );
    }),
    { minLength: 1, maxLength: 4 },
  )
  .map((steps) => steps.join(','));

const TOKENS = ['{', '}', ',', '=', ' ', '"', '\\', '\\u12', '\n', '\t', 'true', 'false', '1e400', '-', '.', 'dce', 'cse', 'sparsity=', 'method=obs', '__proto__', 'constructor', 'toString'];

function resolveAll(text: string): void {
  resolvePipeline(text);
  new PassManager(text);
}

describe('pipeline string fuzz', () => {
  it('registry-built pipelines resolve (the mutations start from valid strings)', () => {
    fc.assert(fc.property(validPipeline, (p) => void resolveAll(p)), fcOptions(200));
  });

  it('mutated pipelines: E_PIPELINE only, with a line:column inside the text', () => {
    const tally = new Tally();
    fc.assert(
      fc.property(validPipeline, fc.array(textMutation(TOKENS), { minLength: 1, maxLength: 4 }), (base, ms) => {
        const text = mutateText(base, ms);
        const outcome = typedOnly(() => resolveAll(text), text.length, LIMITS, tally);
        if (outcome !== 'ok') {
          expect(outcome).toBe('E_PIPELINE');
          try { resolveAll(text); } catch (e) {
            const loc = (e as SsmcError).location;
            if (loc?.line !== undefined) expect(loc.line).toBeLessThanOrEqual(text.split('\n').length);
          }
        }
      }),
      fcOptions(800),
    );
    tally.expectCoverage(1);
  });

  it('arbitrary strings over the pipeline alphabet', () => {
    const tally = new Tally();
    const alphabet = fc.constantFrom(...'abcdefz-_{}=,". \\0123456789e+\n'.split(''), 'dce', 'cse', 'fuse-ops', 'sparsity');
    fc.assert(
      fc.property(fc.array(alphabet, { maxLength: 40 }).map((a) => a.join('')), (text) => {
        const outcome = typedOnly(() => resolveAll(text), text.length, LIMITS, tally);
        if (outcome !== 'ok') expect(outcome).toBe('E_PIPELINE');
      }),
      fcOptions(800),
    );
    expect(tally.count('E_PIPELINE')).toBeGreaterThan(0);
  });

  it('very long and deeply repeated pipelines stay linear', () => {
    const tally = new Tally();
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 20_000 }), fc.constantFrom('dce,', '{', '"', 'dce{a=1 ', ',', ' '), (n, unit) => {
        const text = unit.repeat(n);
        typedOnly(() => resolveAll(text), text.length, { ms: 2000 }, tally);
      }),
      fcOptions(30),
    );
  });
});
