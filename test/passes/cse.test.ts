// cse on hand-written IR, after mlir/test/Transforms/cse.mlir (input text -> expected
// text), and on random graphs with planted duplicates: interpreter outputs unchanged.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { interpret } from '../../src/ir/interpreter.ts';
import { cse, PassManager, runPass } from '../../src/passes/index.ts';
import { checkPipeline, irWithData } from './ir-helpers.ts';
import { arbRedundantGraph, outputsEqual } from './random-graphs.ts';

const seed = Number(process.env.FC_SEED ?? 42);

/** Input and expected output of one case share the header and the return line. */
function graphText(body: string, ret: string, header = '  input %x : f32[4]\n  input %y : f32[4]\n'): string {
  return `graph @g {\n${header}${body}  return ${ret}\n}\n`;
}

describe('cse on IR text', () => {
  it('merges a simple duplicate and rewrites its uses', () => {
    checkPipeline(
      'cse',
      graphText('  %a = ew.neg(%x) : f32[4]\n  %b = ew.neg(%x) : f32[4]\n  %c = ew.add(%a, %b) : f32[4]\n', '%c'),
      graphText('  %a = ew.neg(%x) : f32[4]\n  %c = ew.add(%a, %a) : f32[4]\n', '%c'),
    );
  });

  it('merges chains: a merge makes later nodes equal', () => {
    checkPipeline(
      'cse',
      graphText(
        '  %a1 = ew.neg(%x) : f32[4]\n  %b1 = ew.neg(%x) : f32[4]\n  %a2 = ew.exp(%a1) : f32[4]\n  %b2 = ew.exp(%b1) : f32[4]\n  %c = ew.mul(%a2, %b2) : f32[4]\n',
        '%c',
      ),
      graphText('  %a1 = ew.neg(%x) : f32[4]\n  %a2 = ew.exp(%a1) : f32[4]\n  %c = ew.mul(%a2, %a2) : f32[4]\n', '%c'),
    );
  });

  it('does not merge different ops, different operands or operand orders', () => {
    // (Nothing here is returned directly: a returned duplicate is kept anyway.)
    const text = graphText(
      '  %a = ew.neg(%x) : f32[4]\n  %b = ew.exp(%x) : f32[4]\n  %c = ew.neg(%y) : f32[4]\n  %d = ew.sub(%x, %y) : f32[4]\n  %e = ew.sub(%y, %x) : f32[4]\n' +
        '  %s1 = ew.mul(%a, %b) : f32[4]\n  %s2 = ew.mul(%c, %d) : f32[4]\n  %s3 = ew.mul(%s2, %e) : f32[4]\n  %s4 = ew.mul(%s1, %s3) : f32[4]\n',
      '%s4',
    );
    checkPipeline('cse', text, text);
  });

  it('merges equal attributes but not different ones', () => {
    const header = '  input %x : f32[4]\n  weight @w : f32[4]\n';
    checkPipeline(
      'cse',
      graphText(
        '  %a = nn.rms_norm(%x, @w) {eps = 0.00001} : f32[4]\n  %b = nn.rms_norm(%x, @w) {eps = 0.00001} : f32[4]\n  %c = nn.rms_norm(%x, @w) {eps = 0.000001} : f32[4]\n  %s = ew.add(%a, %b) : f32[4]\n  %t = ew.add(%s, %c) : f32[4]\n',
        '%t',
        header,
      ),
      graphText(
        '  %a = nn.rms_norm(%x, @w) {eps = 0.00001} : f32[4]\n  %c = nn.rms_norm(%x, @w) {eps = 0.000001} : f32[4]\n  %s = ew.add(%a, %a) : f32[4]\n  %t = ew.add(%s, %c) : f32[4]\n',
        '%t',
        header,
      ),
    );
  });

  it('does not merge nodes whose output types differ in annotations', () => {
    const text = graphText('  %a = ew.neg(%x) : f32[4]\n  %b = ew.neg(%x) : f32[4]<memory=image2d>\n  %c = ew.add(%a, %b) : f32[4]\n', '%c');
    checkPipeline('cse', text, text);
  });

  it('merges every output of a multi-output node', () => {
    const header = '  input %x : f32[6]\n';
    checkPipeline(
      'cse',
      graphText(
        '  %p.0, %p.1 = tensor.split(%x) {sizes = [2, 4]} : f32[2], f32[4]\n  %q.0, %q.1 = tensor.split(%x) {sizes = [2, 4]} : f32[2], f32[4]\n  %r = ew.mul(%p.1, %q.1) : f32[4]\n  %s = ew.add(%q.0, %p.0) : f32[2]\n',
        '%r, %s',
        header,
      ),
      graphText(
        '  %p.0, %p.1 = tensor.split(%x) {sizes = [2, 4]} : f32[2], f32[4]\n  %r = ew.mul(%p.1, %p.1) : f32[4]\n  %s = ew.add(%p.0, %p.0) : f32[2]\n',
        '%r, %s',
        header,
      ),
    );
  });

  it('keeps a duplicate that the graph returns (output names are the interface)', () => {
    checkPipeline(
      'cse',
      graphText('  %a = ew.neg(%x) : f32[4]\n  %b = ew.neg(%x) : f32[4]\n  %c = ew.neg(%x) : f32[4]\n  %d = ew.add(%b, %c) : f32[4]\n', '%a, %b, %d'),
      graphText('  %a = ew.neg(%x) : f32[4]\n  %b = ew.neg(%x) : f32[4]\n  %d = ew.add(%b, %a) : f32[4]\n', '%a, %b, %d'),
    );
  });

  it('does not merge nodes with bodies, but simplifies inside each body', () => {
    const body = (n: string) =>
      `  %${n} = fused.group(%x) : f32[4] {\n    param %${n}p : f32[4]\n    %${n}1 = ew.neg(%${n}p) : f32[4]\n    %${n}2 = ew.neg(%${n}p) : f32[4]\n    %${n}3 = ew.mul(%${n}1, %${n}2) : f32[4]\n    yield %${n}3\n  }\n`;
    const merged = (n: string) =>
      `  %${n} = fused.group(%x) : f32[4] {\n    param %${n}p : f32[4]\n    %${n}1 = ew.neg(%${n}p) : f32[4]\n    %${n}3 = ew.mul(%${n}1, %${n}1) : f32[4]\n    yield %${n}3\n  }\n`;
    checkPipeline('cse', graphText(`${body('f')}${body('g')}  %s = ew.add(%f, %g) : f32[4]\n`, '%s'), graphText(`${merged('f')}${merged('g')}  %s = ew.add(%f, %g) : f32[4]\n`, '%s'));
  });

  it('returns the same graph object when nothing merges', () => {
    const g = irWithData(graphText('  %a = ew.neg(%x) : f32[4]\n', '%a'));
    expect(runPass(cse, g)).toBe(g);
  });
});

describe('cse on random graphs', () => {
  it('preserves the interpreter outputs, removes the planted duplicates and is idempotent', () => {
    fc.assert(
      fc.property(arbRedundantGraph, ({ graph, inputs }) => {
        const out = new PassManager('cse', { reproducerDir: false }).run(graph).graph;
        expect(outputsEqual(interpret(out, inputs), interpret(graph, inputs))).toBe(true);
        expect(runPass(cse, out)).toBe(out);
        // No two top-level body-less nodes remain equal unless one defines a graph output.
        const returned = new Set(out.outputs);
        const seen = new Map<string, number>();
        for (const n of out.nodes) {
          if (n.body || n.outputs.some((o) => returned.has(o.name))) continue;
          const key = `${n.op}(${n.inputs})${JSON.stringify(n.attrs)}${JSON.stringify(n.outputs.map((o) => o.type))}`;
          seen.set(key, (seen.get(key) ?? 0) + 1);
        }
        for (const count of seen.values()) expect(count).toBe(1);
      }),
      { seed, numRuns: 100 },
    );
  });

  it('cse then dce never grows the graph', () => {
    fc.assert(
      fc.property(arbRedundantGraph, ({ graph, inputs }) => {
        const out = new PassManager('cse,dce', { reproducerDir: false }).run(graph).graph;
        expect(out.nodes.length).toBeLessThan(graph.nodes.length + 1);
        expect(out.weights.length).toBeLessThan(graph.weights.length);
        expect(outputsEqual(interpret(out, inputs), interpret(graph, inputs))).toBe(true);
      }),
      { seed, numRuns: 50 },
    );
  });
});
