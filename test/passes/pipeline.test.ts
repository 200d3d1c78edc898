// Pipeline strings: canonical round trip on generated pipelines, located syntax errors,
// and resolution errors that name the offender and list what is valid.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SsmcError } from '../../src/errors.ts';
import type { PipelineStep, PipelineValue } from '../../src/passes/index.ts';
import {
  definePass,
  getPass,
  listPasses,
  option,
  parsePipeline,
  printPipeline,
  printPipelineValue,
  registerPass,
  resolvePipeline,
  runPass,
  unregisterPass,
} from '../../src/passes/index.ts';

const seed = Number(process.env.FC_SEED ?? 42);

const kebab = fc
  .array(fc.stringMatching(/^[a-z][a-z0-9]{0,5}$/), { minLength: 1, maxLength: 3 })
  .map((ws) => ws.join('-'));
const key = fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_-]{0,8}$/);
const value: fc.Arbitrary<PipelineValue> = fc.oneof(
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.integer(),
  fc.boolean(),
  fc.string({ unit: 'grapheme', maxLength: 12 }),
  fc.string({ unit: 'binary', maxLength: 6 }),
  fc.stringMatching(/^[A-Za-z0-9_.+\-/:]{1,8}$/),
  fc.constantFrom('true', 'false', '1', '-0', '1e5', '', ' ', 'a b', 'x,y', 'a}', '"', '\\'),
);
const step: fc.Arbitrary<PipelineStep> = fc.record({
  pass: kebab,
  options: fc.uniqueArray(fc.tuple(key, value), { maxLength: 4, selector: ([k]) => k }).map((e) => Object.fromEntries(e)),
});
const pipeline = fc.array(step, { maxLength: 5 });

/** A non-canonical spelling: random whitespace wherever the grammar allows it. */
function spacedPrint(steps: readonly PipelineStep[], ws: () => string): string {
  return steps
    .map((s) => {
      const opts = Object.entries(s.options).map(([k, v]) => `${k}${ws()}=${ws()}${printPipelineValue(v)}`);
      return `${ws()}${s.pass}${ws()}${opts.length || ws() ? `{${ws()}${opts.join(` ${ws()}`)}${ws()}}${ws()}` : ''}`;
    })
    .join(',');
}

describe('pipeline text', () => {
  it('parse(print(steps)) equals steps; print is a fixed point', () => {
    fc.assert(
      fc.property(pipeline, (steps) => {
        const text = printPipeline(steps);
        const back = parsePipeline(text);
        expect(back).toEqual(steps);
        expect(printPipeline(back)).toBe(text);
      }),
      { seed, numRuns: 500 },
    );
  });

  it('whitespace around names, braces, = and commas does not change the meaning', () => {
    const blanks = fc.array(fc.constantFrom('', ' ', '  ', '\t', '\n'), { minLength: 64, maxLength: 64 });
    fc.assert(
      fc.property(pipeline, blanks, (steps, pool) => {
        let i = 0;
        const ws = () => pool[i++ % pool.length];
        const text = spacedPrint(steps, ws);
        expect(parsePipeline(text)).toEqual(steps);
      }),
      { seed, numRuns: 300 },
    );
  });

  it('prints the canonical form of hand-written examples', () => {
    const s = 'sparsify-cn4{sparsity=0.5 method=obs},reorder-weights,dce';
    expect(printPipeline(parsePipeline(s))).toBe(s);
    expect(parsePipeline(s)).toEqual([
      { pass: 'sparsify-cn4', options: { sparsity: 0.5, method: 'obs' } },
      { pass: 'reorder-weights', options: {} },
      { pass: 'dce', options: {} },
    ]);
    expect(printPipeline(parsePipeline(' a { x = 1.50  y="w" z=true } , b{} ,c '))).toBe('a{x=1.5 y=w z=true},b,c');
    expect(parsePipeline('a{s="true" t="1" u="x y\\n"}')[0].options).toEqual({ s: 'true', t: '1', u: 'x y\n' });
    expect(printPipeline(parsePipeline('a{s="true" t="1" u="x y\\n"}'))).toBe('a{s="true" t="1" u="x y\\n"}');
    expect(parsePipeline('')).toEqual([]);
    expect(parsePipeline('  \n')).toEqual([]);
    expect(printPipeline([])).toBe('');
  });
});

function pipelineError(f: () => unknown): SsmcError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(SsmcError);
    expect((e as SsmcError).code).toBe('E_PIPELINE');
    return e as SsmcError;
  }
  throw new Error('expected an E_PIPELINE error');
}

describe('pipeline syntax errors', () => {
  const cases: Array<[string, number, RegExp]> = [
    ['dce,,cse', 5, /expected a pass name, found ','/],
    ['dce,', 5, /expected a pass name after ','/],
    ['{a=1}', 1, /expected a pass name/],
    ['dce cse', 5, /expected ',' or the end of the pipeline, found 'c'/],
    ['dce{a=1', 4, /unclosed '\{' of pass 'dce'/],
    ['dce{a}', 6, /expected '=' after option 'a'/],
    ['dce{a=1,b=2}', 8, /separated by spaces, not commas/],
    ['dce{a=}', 7, /expected a value for 'a'/],
    ['dce{a="x\\q"}', 9, /invalid escape '\\q'/],
    ['dce{a="xy}', 7, /unterminated string/],
    ['dce{a=1 a=2}', 9, /option 'a' of pass 'dce' is given twice/],
    ['dce{a=1e999}', 7, /out of range/],
    ['dce{a=1}{b=2}', 9, /unexpected '\{'/],
    ['dce{a=1"x"}', 8, /expected a space or '\}'/],
  ];
  it.each(cases)('%s -> column %i', (text, column, message) => {
    const e = pipelineError(() => parsePipeline(text));
    expect(e.location?.column).toBe(column);
    expect(e.location?.line).toBe(1);
    expect(e.message).toMatch(message);
    // The message ends with the text and a caret under the column.
    const lines = e.message.split('\n');
    expect(lines.at(-2)).toBe(`  ${text}`);
    expect(lines.at(-1)).toBe(`  ${' '.repeat(column - 1)}^`);
  });

  it('locates errors on later lines', () => {
    const e = pipelineError(() => parsePipeline('dce,\n  cse{x=}'));
    expect(e.location).toMatchObject({ line: 2, column: 9 });
  });
});

describe('resolving against the registry', () => {
  const opts = definePass({
    name: 'test-opts',
    description: 'a pass with one option of every kind',
    options: {
      n: { kind: 'int', default: 2, min: 0, max: 4, doc: 'pruned per group' },
      sparsity: { kind: 'float', min: 0, max: 0.99 },
      verbose: { kind: 'bool', default: false },
      label: { kind: 'string', default: 'x' },
      method: { kind: 'enum', values: ['magnitude', 'wanda', 'obs'], default: 'obs' },
    },
    run: (g) => g,
  });
  beforeAll(() => registerPass(opts));
  afterAll(() => unregisterPass('test-opts'));

  it('converts values and fills defaults', () => {
    const [r] = resolvePipeline('test-opts{sparsity=0.25 label=7 method=wanda}');
    expect(r.pass).toBe(opts);
    expect(r.options).toEqual({ n: 2, sparsity: 0.25, verbose: false, label: '7', method: 'wanda' });
    const [r2] = resolvePipeline('test-opts');
    expect(r2.options).toEqual({ n: 2, sparsity: undefined, verbose: false, label: 'x', method: 'obs' });
  });

  it('names an unknown pass, suggests the closest and lists the known ones', () => {
    const e = pipelineError(() => resolvePipeline('cse,dcee{a=1}'));
    expect(e.message).toMatch(/unknown pass 'dcee' \(did you mean 'dce'\?\); known passes: .*cse.*dce.*test-opts/);
    expect(e.location?.column).toBe(5);
  });

  it('names an unknown option and lists the valid ones', () => {
    const e = pipelineError(() => resolvePipeline('dce,test-opts{n=1 methd=obs}'));
    expect(e.message).toMatch(/pass 'test-opts' has no option 'methd' \(did you mean 'method'\?\); its options: n=<int in \[0, 4\]> \(default 2\), sparsity=<float/);
    expect(e.location?.column).toBe(19);
    const e2 = pipelineError(() => resolvePipeline('dce{x=1}'));
    expect(e2.message).toMatch(/pass 'dce' has no option 'x' \(it takes no options\)/);
  });

  it.each([
    ['test-opts{n=5}', /option 'n' of pass 'test-opts' must be in \[0, 4\], got 5 \(n: pruned per group\)/, 13],
    ['test-opts{n=1.5}', /option 'n' of pass 'test-opts' must be an integer, got 1.5/, 13],
    ['test-opts{n=two}', /option 'n' of pass 'test-opts' must be an integer, got "two"/, 13],
    ['test-opts{sparsity=1}', /option 'sparsity' of pass 'test-opts' must be in \[0, 0.99\], got 1/, 20],
    ['test-opts{verbose=1}', /option 'verbose' of pass 'test-opts' must be true or false, got 1/, 19],
    ['test-opts{method=wand}', /option 'method' of pass 'test-opts' must be one of magnitude\|wanda\|obs, got "wand" \(did you mean 'wanda'\?\)/, 18],
  ])('%s: bad value', (text, message, column) => {
    const e = pipelineError(() => resolvePipeline(text));
    expect(e.message).toMatch(message);
    expect(e.location?.column).toBe(column);
  });

  it('resolves steps that were not parsed (no location, same message)', () => {
    const e = pipelineError(() => resolvePipeline([{ pass: 'test-opts', options: { n: -1 } }]));
    expect(e.message).toMatch(/option 'n' of pass 'test-opts' must be in \[0, 4\], got -1/);
    expect(e.location).toBeUndefined();
  });
});

describe('the registry', () => {
  it('holds the built-in passes', () => {
    const names = listPasses().map((p) => p.name);
    expect(names).toEqual([...names].sort());
    expect(names).toEqual(expect.arrayContaining(['cse', 'dce']));
    expect(getPass('dce').description).toMatch(/unused/);
  });

  it('rejects duplicates and names that are not kebab-case', () => {
    const p = definePass({ name: 'dce', description: 'another dce', run: (g) => g });
    expect(() => registerPass(p)).toThrow(/already registered/);
    for (const name of ['Dce', 'fold_neg', 'fold--neg', '-x', 'x-', '1x', '']) {
      expect(() => definePass({ name, description: 'd', run: (g) => g }), name).toThrow(/kebab-case/);
      expect(() => registerPass({ name, description: 'd', options: {}, run: (g) => g }), name).toThrow(/kebab-case/);
    }
  });

  it('checks option specs when a pass is defined', () => {
    const d = (options: object) => () => definePass({ name: 'bad-spec', description: 'd', options: options as never, run: (g) => g });
    expect(d({ n: { kind: 'int', default: 9, max: 4 } })).toThrow(/default of option 'n' is invalid/);
    expect(d({ m: { kind: 'enum', values: [] } })).toThrow(/at least one value/);
    expect(d({ m: { kind: 'enum', values: ['a'], default: 'b' } })).toThrow(/default of option 'm'/);
    expect(d({ 'Bad Name': { kind: 'bool' } })).toThrow(/option name 'Bad Name'/);
    expect(d({ x: { kind: 'list' } })).toThrow(/kind 'list'/);
  });
});

describe('typed options', () => {
  it('gives run() typed values, defaults filled, through pipelines and runPass alike', () => {
    const seen: unknown[] = [];
    const p = definePass({
      name: 'test-typed',
      description: 'records its options',
      options: {
        n: option.int({ min: 0, max: 4, default: 2 }),
        damp: option.float({ default: 0.001, min: 0 }),
        method: option.enum(['magnitude', 'wanda', 'obs'], { default: 'obs' }),
        dry: option.bool(),
        layers: option.string({ doc: 'comma-separated layer kinds' }),
      },
      run(g, o) {
        // Compile-time checks: defaulted options are present, the others may be undefined.
        const n: number = o.n;
        const m: 'magnitude' | 'wanda' | 'obs' = o.method;
        const dry: boolean | undefined = o.dry;
        // @ts-expect-error layers has no default
        const layers: string = o.layers;
        seen.push({ n, damp: o.damp, m, dry, layers });
        return g;
      },
    });
    registerPass(p);
    try {
      const g = { name: 'g' } as never;
      resolvePipeline('test-typed{layers="in_proj,x_proj" dry=true}').forEach((s) => s.pass.run(g, s.options, {} as never));
      runPass(p, g, { n: 4, method: 'wanda' });
      expect(seen).toEqual([
        { n: 2, damp: 0.001, m: 'obs', dry: true, layers: 'in_proj,x_proj' },
        { n: 4, damp: 0.001, m: 'wanda', dry: undefined, layers: undefined },
      ]);
      expect(() => runPass(p, g, { n: 7 })).toThrow(/option 'n' of pass 'test-typed' must be in \[0, 4\], got 7/);
      expect(() => runPass(p, g, { nn: 1 } as never)).toThrow(/has no option 'nn' \(did you mean 'n'\?\)/);
    } finally {
      unregisterPass('test-typed');
    }
  });
});
