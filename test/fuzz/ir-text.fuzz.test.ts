// The text IR parser (specs/ir-text.md): printed random graphs and a printed Mamba
// graph, mutated by deletions, insertions of grammar tokens, splices, hostile numbers
// (huge dims, counts and ranges) and truncations, must parse or fail with a located
// E_SYNTAX / verifier error: never a crash, a stack overflow or an allocation the
// text cannot justify (`cn4=[2x99999999]` on a huge shape, say).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SsmcError } from '../../src/errors.ts';
import { buildMambaGraph } from '../../src/frontend/mamba-graph.ts';
import { parseGraph, printGraph } from '../../src/ir/text/index.ts';
import { arbGraph } from '../../src/testing/arbitraries.ts';
import { randomCheckpoint } from '../helpers/random-model.ts';
import { fcOptions, mutateText, Tally, textMutation, typedOnly } from './harness.ts';

// ohm memoizes every rule at every position: parsing costs ~1-1.3 KB of heap per input
// character (measured, linear from 7 KB to 120 KB texts), hence the per-byte allowance.
const LIMITS = { ms: 1000, perInputByte: 2048 };

const mambaText = printGraph(
  buildMambaGraph(
    randomCheckpoint({ dModel: 4, nLayer: 1, vocabSize: 8, dState: 2, dConv: 2, expand: 2, dInner: 8, dtRank: 1, normEps: 1e-5, tiedHead: true, convBias: true, projBias: false }, 1),
    { mode: 'decode' },
  ),
);

const TOKENS = [
  '{', '}', '(', ')', '[', ']', '<', '>', ',', ';', ':', '=', '@', '%', '"', '\\', '//', '\n', '..', 'x', '-',
  'graph', 'input', 'weight', 'return', 'param', 'yield', 'memory=image2d', 'cn4=[2x3]', 'perm=[0..3]', 'f32', 'bf16', 'i32',
  'nan', 'inf', 'true', '__proto__', 'ew.add', 'fused.group', 'nn.linear', '1x99999999', '0..99999999', '%x', '@w',
];

const textArb = fc.oneof(
  { weight: 3, arbitrary: arbGraph({ maxNodes: 6 }).map(printGraph) },
  { weight: 1, arbitrary: fc.constant(mambaText) },
);

const parse = (text: string) => parseGraph(text, { file: 'fuzz.ir' });

describe('text IR fuzz', () => {
  it('printed graphs parse back (the mutations start from valid texts)', () => {
    fc.assert(fc.property(textArb, (t) => void parse(t)), fcOptions(50));
  });

  it('mutated and truncated texts: typed errors only, fast, bounded memory', () => {
    const tally = new Tally();
    fc.assert(
      fc.property(textArb, fc.array(textMutation(TOKENS), { minLength: 1, maxLength: 5 }), (base, ms) => {
        const text = mutateText(base, ms);
        const outcome = typedOnly(() => parse(text), text.length, LIMITS, tally);
        if (outcome === 'E_SYNTAX') {
          // Syntax errors point at a line and column inside the text.
          try { parse(text); } catch (e) {
            const loc = (e as SsmcError).location;
            expect(loc?.line).toBeGreaterThanOrEqual(1);
            expect(loc?.line).toBeLessThanOrEqual(text.split('\n').length);
          }
        }
      }),
      fcOptions(500),
    );
    tally.expectCoverage(2);
  });

  it('annotations and shapes with huge counts, ranges and dims are refused without expanding them', () => {
    const tally = new Tally();
    const big = fc.constantFrom('0', '1', '4', '65536', '65537', '99999999', '4294967296', '9007199254740993', '99999999999999999999999');
    fc.assert(
      fc.property(big, big, big, fc.constantFrom('cn4', 'perm'), (rows, count, last, ann) => {
        const runs = ann === 'cn4' ? `2x${count}` : `0..${last}`;
        const text = `graph @g {\n  input %x : f32[${rows}]\n  weight @w : f32[${rows}, 4]<${ann}=[${runs}]>\n  return %x\n}\n`;
        typedOnly(() => parse(text), text.length, LIMITS, tally);
      }),
      fcOptions(200),
    );
    expect(tally.errors).toBeGreaterThan(0);
  });

  it('deeply nested lists, bodies and long inputs', () => {
    const tally = new Tally();
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 20_000 }), fc.constantFrom('attr', 'body', 'shape', 'ops'), (depth, kind) => {
        let text: string;
        if (kind === 'attr') text = `graph @g {a=${'['.repeat(depth)}1${']'.repeat(depth)}} {\n  input %x : f32[1]\n  return %x\n}\n`;
        else if (kind === 'body') text = `graph @g {\n  input %x : f32[1]\n${'  %y = fused.group(%x) : f32[1] {\n param %p : f32[1]\n'.repeat(depth)}  return %x\n}\n`;
        else if (kind === 'shape') text = `graph @g {\n  input %x : f32[${Array(depth).fill('1').join(',')}]\n  return %x\n}\n`;
        else text = `graph @g {\n  input %x : f32[1]\n${'  %y = ew.neg(%x) : f32[1]\n'.repeat(Math.min(depth, 800))}  return %x\n}\n`;
        typedOnly(() => parse(text), text.length, { ...LIMITS, ms: 3000 }, tally);
      }),
      fcOptions(20),
    );
  });
});
