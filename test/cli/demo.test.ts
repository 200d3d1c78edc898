// The main job, shortened (cheap pipeline, a slice of the held-out text): it writes a
// report whose figures are consistent with what the parts measure on their own.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.ts';

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
  });
});
