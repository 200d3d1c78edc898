// The main job, shortened (cheap pipeline, a slice of the held-out text): it writes a
// report whose figures are consistent with what the parts measure on their own, and the
// pictures report.md shows.
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.ts';
import { repoRoot } from '../helpers/paths.ts';
import { checkChart } from '../viz/chart-check.ts';
import { byClass, parseXml } from '../viz/xml.ts';

describe('ssmc demo (the main job)', () => {
  it('prunes, compiles, verifies and reports', async () => {
    const out = mkdtempSync(join(tmpdir(), 'ssmc-demo-'));
    const r = await runCli(['demo', '-o', out, '--pipeline', 'sparsify-cn4{method=wanda n=2}', '--calib-tokens', '1024', '--max-bytes', '1500', '-n', '20']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('held-out bits per byte');
    const rep = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'));
    expect(readFileSync(join(out, 'report.md'), 'utf8')).toContain('| held-out bits per byte |');
    for (const v of [rep.dense, rep.sparse]) {
      expect(v.verify_rel).toBeLessThan(1e-5); // compiled C equals the interpreter
      expect(v.continuation).toHaveLength(20);
      expect(v.decode_tokens_per_s).toBeGreaterThan(0);
    }
    expect(rep.sparsity.sparsity).toBe(0.5);
    // OpenCL (PoCL, installed by setup) computes the same, with no layout conversions left.
    expect(rep.opencl.skipped).toBeUndefined();
    expect(rep.opencl.conversions).toEqual({ dense: 0, sparse: 0 });
    expect(rep.opencl.verify_rel.dense).toBeLessThan(1e-5);
    expect(rep.opencl.verify_rel.sparse).toBeLessThan(1e-5);
    expect(rep.sparse.weight_bytes_per_token).toBeLessThan(rep.dense.weight_bytes_per_token);
    // The dense figure is what `ssmc eval` reports for the same slice.
    const ev = await runCli(['eval', rep.model.path, '--text', join(rep.model.path, 'heldout.txt'), '--max-bytes', '1500', '--json']);
    expect(JSON.parse(ev.stdout).bits_per_token).toBeCloseTo(rep.dense.heldout_bits_per_byte, 5);

    // Pictures: written beside report.md, which shows them.
    expect(readdirSync(out).sort()).toEqual(['graph-layer1.svg', 'graph.svg', 'report.json', 'report.md', 'sparsity.svg']);
    const md = readFileSync(join(out, 'report.md'), 'utf8');
    expect(md).toMatch(/!\[[^\]]+\]\(sparsity\.svg\)/);
    expect(md).toMatch(/!\[[^\]]+\]\(graph-layer1\.svg\)/);
    expect(md).toContain('(graph.svg)');
    checkChart(readFileSync(join(out, 'sparsity.svg'), 'utf8'), rep.sparsity.layers, rep.sparsity.sparsity);
    // One fused decode layer: its six kernels, from the OpenCL layout pipeline (memory kinds drawn).
    const layer = parseXml(readFileSync(join(out, 'graph-layer1.svg'), 'utf8'));
    expect(byClass(layer, 'cluster')).toHaveLength(6);
    expect(byClass(layer, 'node').some((n) => n.attrs.id === 'weight:l1.in_proj')).toBe(true);
    expect(readFileSync(join(out, 'graph-layer1.svg'), 'utf8')).toContain('image2d');
    // The whole graph: one cluster per fused group, 6 per layer plus layer 0's embedding + norm.
    const whole = parseXml(readFileSync(join(out, 'graph.svg'), 'utf8'));
    expect(byClass(whole, 'cluster')).toHaveLength(6 * rep.model.n_layer + 1);
  });

  it('names a missing calibration text as an E_IO error on the model folder, and writes no report', async () => {
    const model = mkdtempSync(join(tmpdir(), 'ssmc-demo-model-'));
    cpSync(join(repoRoot, 'models/mamba-shakespeare-s'), model, { recursive: true });
    rmSync(join(model, 'calib.txt'));
    const out = join(mkdtempSync(join(tmpdir(), 'ssmc-demo-')), 'out');
    const r = await runCli(['demo', '--model', model, '-o', out]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/error\[E_IO\].*calib\.txt.*missing: the main job reads the calibration text/);
    expect(existsSync(join(out, 'report.json'))).toBe(false);
  });
});
