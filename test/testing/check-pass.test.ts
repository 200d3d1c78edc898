// checkPass (the `ssmc/testing` fuzzer for passes) and `ssmc check-pass`: accepts the
// built-in and example passes, finds the deliberately wrong example with a shrunk
// counter-example whose IR parses, and tells the other kinds of failure apart.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { foldDoubleNeg } from '../../examples/custom-pass.ts';
import { sortCommutativeOperands } from '../../examples/wrong-pass.ts';
import type { Graph } from '../../src/ir/graph.ts';
import { makeGraph } from '../../src/ir/graph.ts';
import { parseGraph } from '../../src/ir/text/index.ts';
import { cse, dce, definePass, reorderWeights } from '../../src/passes/index.ts';
import { arbGraphWithInputs, assertPass, checkPass } from '../../src/testing/index.ts';
import { runBin, runCli } from '../helpers/cli.ts';
import { repoRoot, seed } from '../helpers/paths.ts';

const wrongFile = join(repoRoot, 'examples/wrong-pass.ts');
const customFile = join(repoRoot, 'examples/custom-pass.ts');

describe('checkPass', () => {
  it('accepts dce, cse, reorder-weights and the documented custom pass', () => {
    for (const pass of [dce, cse, 'reorder-weights', foldDoubleNeg]) {
      const r = checkPass(pass, { seed, runs: 150, tolerance: { rel: 1e-6, abs: 1e-7 } });
      expect(r.ok, r.report).toBe(true);
      expect(r.seed).toBe(seed);
      expect(r.stats.cases).toBe(150);
      expect(r.report).toMatch(/^PASS /);
    }
    // dce rewrites most generated graphs, so its check is not vacuous.
    expect(checkPass(dce, { seed, runs: 50 }).stats.changed).toBeGreaterThan(10);
    expect(assertPass(reorderWeights, { seed, runs: 20, options: { fold: false } }).ok).toBe(true);
  });

  it('finds the wrong example and shrinks it to a small graph whose IR parses', () => {
    const r = checkPass(sortCommutativeOperands, { seed });
    expect(r.ok).toBe(false);
    const ce = r.counterexample!;
    expect(ce.kind).toBe('mismatch');
    const g = parseGraph(ce.ir).graph;
    expect(g.nodes.length).toBeLessThanOrEqual(3);
    expect(g.nodes.some((n) => n.op === 'ew.sub')).toBe(true);
    expect(g.outputs).toEqual([ce.output]);
    expect(ce.maxDiff).toBeGreaterThan(0);
    expect(Math.abs(ce.expected! - ce.actual!)).toBe(ce.maxDiff);
    expect(parseGraph(ce.irAfter!).graph.nodes.length).toBe(g.nodes.length);
    for (const v of g.inputs) expect(ce.inputs[v.name]).toBeDefined();
    expect(r.report).toContain(ce.ir.split('\n')[0]);
    expect(r.report).toContain(`seed ${seed}`);
    // Seed and path replay the same counter-example at once.
    const again = checkPass(sortCommutativeOperands, { seed, path: r.path });
    expect(again.counterexample!.ir).toBe(ce.ir);
    expect(again.stats.cases).toBe(0);
    expect(() => assertPass(sortCommutativeOperands, { seed })).toThrow(/FAIL sort-commutative-operands[\s\S]*ew\.sub/);
  });

  it('tells apart a pass that throws, corrupts the IR, writes into its input, or changes the interface', () => {
    const firstWeight = (g: Graph) => g.weights.find((w) => w.type.dtype === 'f32');
    const cases = [
      ['threw', (g: Graph) => (g.nodes.some((n) => n.op === 'ew.neg') ? (() => { throw new Error('boom'); })() : g)],
      ['invalid-ir', (g: Graph) => makeGraph({ ...g, outputs: [...g.outputs, 'nowhere'] })],
      ['mutated-input', (g: Graph) => {
        const w = firstWeight(g);
        if (w) (g.weightData.get(w.name) as Float32Array).fill(0.5);
        return g;
      }],
      ['interface', (g: Graph) => makeGraph({ ...g, outputs: g.outputs.slice(1) })],
    ] as const;
    for (const [kind, run] of cases) {
      const pass = definePass({ name: `broken-${kind}`, description: 'a broken pass for the checker', run });
      const r = checkPass(pass, { seed, runs: 100 });
      expect(r.ok).toBe(false);
      expect(r.counterexample!.kind).toBe(kind);
      parseGraph(r.counterexample!.ir); // still printable and parseable
    }
  });

  it('applies the tolerance to finite values only', () => {
    // Scales every f32 weight by 1 + 2^-20: outputs move by about 1e-6 relative.
    const nudge = definePass({
      name: 'nudge-weights',
      description: 'scale f32 weights slightly',
      run(g) {
        let data = g.weightData;
        for (const w of g.weights) if (w.type.dtype === 'f32') data = data.with(w.name, (data.get(w.name) as Float32Array).map((v) => v * (1 + 2 ** -20)));
        return makeGraph({ ...g, weightData: data });
      },
    });
    const graphs = arbGraphWithInputs({ kinds: ['linear', 'unary'] });
    expect(checkPass(nudge, { seed, runs: 50, graphs }).ok).toBe(false);
    const loose = checkPass(nudge, { seed, runs: 50, graphs, tolerance: { rel: 1e-3, abs: 1e-6 } });
    expect(loose.ok, loose.report).toBe(true);
    expect(loose.stats.maxRel).toBeGreaterThan(0);
  });
});

describe('ssmc check-pass', () => {
  it('exits 1 on the wrong example, printing a small counter-example that parses', async () => {
    const r = await runCli(['check-pass', wrongFile, '--seed', String(seed)]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^FAIL sort-commutative-operands/);
    expect(r.stderr).toContain('error[E_PASS]');
    const ir = r.stdout.split('smallest failing graph:\n')[1].split('\n  data:')[0].replace(/^ {4}/gm, '');
    const g = parseGraph(ir).graph;
    expect(g.nodes.length).toBeLessThanOrEqual(3);
    expect(ir).toContain('ew.sub(');
  });

  it('exits 0 on the custom example, and checks a named pass with options', async () => {
    const ok = await runCli(['check-pass', customFile, '--seed', String(seed), '--runs', '50']);
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/^PASS fold-double-neg: 50 cases/);
    const named = await runCli(['check-pass', customFile, '--seed', String(seed), '--runs', '30', '--pass', 'reorder-weights{fold=false}', '--json']);
    expect(named.code).toBe(0);
    const [res] = JSON.parse(named.stdout);
    expect(res).toMatchObject({ ok: true, pass: 'reorder-weights', seed, runs: 30 });
  });

  it('reports bad input clearly', async () => {
    const missing = await runCli(['check-pass', join(repoRoot, 'examples/nope.ts')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('E_IO');
    const noPass = await runCli(['check-pass', join(repoRoot, 'test/helpers/errors.ts')]);
    expect(noPass.code).toBe(2);
    expect(noPass.stderr).toMatch(/defines no pass/);
    const badPass = await runCli(['check-pass', customFile, '--pass', 'no-such-pass']);
    expect(badPass.code).toBe(1);
    expect(badPass.stderr).toMatch(/unknown pass 'no-such-pass'/);
    expect((await runCli(['check-pass', customFile, '--runs', '0'])).code).toBe(2);
  });

  it('gives the real exit code from the installed binary', () => {
    const r = runBin(['check-pass', 'examples/wrong-pass.ts', '--seed', String(seed), '--runs', '200']);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('FAIL sort-commutative-operands');
  });
});
