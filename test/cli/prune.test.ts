// ssmc prune end to end: the written checkpoint is the pipeline's graph, sparsity.json
// describes it, sparsity.svg draws it, and bad requests leave nothing behind.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCheckpoint } from '../../src/frontend/load.ts';
import { runCli } from '../helpers/cli.ts';
import { fixtureNames, fixturesDir } from '../helpers/paths.ts';
import { checkChart } from '../viz/chart-check.ts';
import { byClass } from '../viz/xml.ts';

const fixture = join(fixturesDir(), fixtureNames()[0]);
const text = join(fixture, 'heldout.txt');
const tmp = () => mkdtempSync(join(tmpdir(), 'ssmc-prune-'));

async function bits(args: string[]): Promise<number> {
  const r = await runCli(['eval', ...args, '--text', text, '--max-bytes', '1500', '--json']);
  expect(r.stderr).toBe('');
  return JSON.parse(r.stdout).bits_per_token;
}

describe('ssmc prune', () => {
  it('writes a checkpoint that evaluates exactly like the pipeline run in place', async () => {
    const out = join(tmp(), 'pruned');
    const flags = ['--n', '2', '--method', 'wanda', '--calib', join(fixture, 'calib.txt'), '--calib-tokens', '2048'];
    const r = await runCli(['prune', fixture, '-o', out, ...flags]);
    expect(r.code).toBe(0);
    expect(readdirSync(out).sort()).toEqual(['config.json', 'model.safetensors', 'sparsity.json', 'sparsity.svg']);
    expect(await bits([out])).toBe(await bits([fixture, ...flags]));
    // Every pruned row obeys 2:4 in the written file, and sparsity.json says so.
    const ck = loadCheckpoint(out);
    const report = JSON.parse(readFileSync(join(out, 'sparsity.json'), 'utf8'));
    expect(report.sparsity).toBe(0.5);
    for (const layer of report.layers) {
      const w = ck.tensors.get(layer.weight)!.data as Float32Array;
      expect(layer.nHistogram).toEqual([0, 0, layer.rows, 0, 0]);
      for (let g = 0; g < w.length; g += 4) expect([w[g], w[g + 1], w[g + 2], w[g + 3]].filter((v) => v === 0).length).toBeGreaterThanOrEqual(2);
    }
    expect(JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')).hidden_size).toBe(ck.config.dModel);
    // The chart's bars measure sparsity.json's histograms, and every matrix's bar is the
    // zero fraction actually written (pruned weights are exact zeros; trained ones are not).
    const svg = checkChart(readFileSync(join(out, 'sparsity.svg'), 'utf8'), report.layers, report.sparsity);
    const plot = byClass(svg, 'plot').find((e) => e.attrs.id === 'plot-sparsity')!;
    for (const bar of byClass(svg, 'bar')) {
      const w = ck.tensors.get(bar.attrs['data-weight'])!.data as Float32Array;
      const zeros = w.reduce((a, v) => a + (v === 0 ? 1 : 0), 0) / w.length;
      expect(Number(bar.attrs.height) / Number(plot.attrs.height)).toBeCloseTo(zeros, 4);
    }
  });

  it('writes the same sparsity.svg for the same run, with layers and projections in it', async () => {
    const d = tmp();
    const flags = ['--pipeline', 'sparsify-cn4{method=magnitude pattern=adaptive sparsity=0.4 sens-tokens=128}', '--calib', join(fixture, 'calib.txt'), '--calib-tokens', '256'];
    const a = await runCli(['prune', fixture, '-o', join(d, 'a'), ...flags]);
    const b = await runCli(['prune', fixture, '-o', join(d, 'b'), ...flags]);
    expect(a.code).toBe(0);
    expect(b.code).toBe(0);
    expect(a.stdout).toContain(`chart ${join(d, 'a', 'sparsity.svg')}`);
    const svg = readFileSync(join(d, 'a', 'sparsity.svg'), 'utf8');
    expect(readFileSync(join(d, 'b', 'sparsity.svg'), 'utf8')).toBe(svg);
    const report = JSON.parse(readFileSync(join(d, 'a', 'sparsity.json'), 'utf8'));
    // Adaptive: the n per row differ between matrices, and the chart shows each one's mix.
    expect(new Set(report.layers.map((l: { sparsity: number }) => l.sparsity.toFixed(4))).size).toBeGreaterThan(1);
    checkChart(svg, report.layers, report.sparsity);
    for (const kind of ['in_proj', 'x_proj', 'dt_proj', 'out_proj']) expect(svg).toContain(`>${kind}</text>`);
  });

  it('writes GGUF with the report beside it', async () => {
    const d = tmp();
    const r = await runCli(['prune', fixture, '-o', join(d, 'm.gguf'), '--format', 'gguf', '--n', '1', '--method', 'magnitude']);
    expect(r.code).toBe(0);
    expect(readdirSync(d).sort()).toEqual(['m.gguf', 'm.sparsity.json', 'm.sparsity.svg']);
    const report = JSON.parse(readFileSync(join(d, 'm.sparsity.json'), 'utf8'));
    checkChart(readFileSync(join(d, 'm.sparsity.svg'), 'utf8'), report.layers, report.sparsity);
    expect(await bits([join(d, 'm.gguf')])).toBe(await bits([fixture, '--n', '1', '--method', 'magnitude']));
  });

  it('refuses what it cannot write, leaving no output', async () => {
    const d = tmp();
    const none = await runCli(['prune', fixture, '-o', join(d, 'a')]);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('nothing to prune');
    const reorder = await runCli(['prune', fixture, '-o', join(d, 'b'), '--pipeline', 'sparsify-cn4{method=magnitude pattern=adaptive sparsity=0.5 sens-tokens=256},reorder-weights', '--calib', join(fixture, 'calib.txt'), '--calib-tokens', '512']);
    expect(reorder.code).toBe(1);
    expect(reorder.stderr).toContain('reordered the rows');
    const short = await runCli(['prune', fixture, '-o', join(d, 'c'), '--sparsity', '0.5', '--calib', join(fixture, 'calib.txt'), '--calib-tokens', '999999']);
    expect(short.code).toBe(2);
    expect(short.stderr).toContain('--calib-tokens');
    expect(readdirSync(d)).toEqual([]);
    expect(existsSync(join(d, 'a'))).toBe(false);
  });

  it('removes the GGUF and its report when the chart cannot be written', async () => {
    const d = tmp();
    // A non-empty folder where the chart goes: the rename onto it fails after the GGUF is written.
    mkdirSync(join(d, 'm.sparsity.svg'));
    writeFileSync(join(d, 'm.sparsity.svg', 'keep'), 'x');
    const r = await runCli(['prune', fixture, '-o', join(d, 'm.gguf'), '--format', 'gguf', '--n', '1', '--method', 'magnitude']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('m.sparsity.svg');
    expect(readdirSync(d)).toEqual(['m.sparsity.svg']);
    expect(readdirSync(join(d, 'm.sparsity.svg'))).toEqual(['keep']);
  });
});
