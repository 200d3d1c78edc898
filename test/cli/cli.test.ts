// The command line end to end on the trained fixtures: exit codes, outputs, errors.
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeHfFolder } from '../../src/frontend/hf-export.ts';
import { runBin, runCli } from '../helpers/cli.ts';
import { randomCheckpoint } from '../helpers/random-model.ts';
import { fixtureNames, fixturesDir } from '../helpers/paths.ts';

const tmp = () => mkdtempSync(join(tmpdir(), 'ssmc-cli-'));
const fingerprint = (dir: string) =>
  readdirSync(dir)
    .map((f) => `${f}:${statSync(join(dir, f)).mtimeMs}:${createHash('sha256').update(readFileSync(join(dir, f))).digest('hex')}`)
    .join('\n');

describe.each(fixtureNames())('fixture %s', (name) => {
  const dir = join(fixturesDir(), name);
  const ref = JSON.parse(readFileSync(join(dir, 'reference.json'), 'utf8'));

  it('ssmc logits matches the independent reference within 1e-4', async () => {
    const out = join(tmp(), 'logits.f32');
    const before = fingerprint(dir);
    const r = await runCli(['logits', dir, '--tokens', ref.tokens.join(','), '--out', out]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const got = new Float32Array(readFileSync(out).buffer.slice(0));
    const want = new Float32Array(readFileSync(join(dir, ref.logits_file)).buffer.slice(0));
    expect(got.length).toBe(ref.shape[0] * ref.shape[1]);
    let maxAbs = 0;
    for (let i = 0; i < want.length; i++) maxAbs = Math.max(maxAbs, Math.abs(got[i] - want[i]));
    expect(maxAbs).toBeLessThan(1e-4);
    expect(fingerprint(dir)).toBe(before); // inputs are never modified
  });

  it('ssmc eval --json reports consistent figures', async () => {
    const r = await runCli(['eval', dir, '--text', join(dir, 'heldout.txt'), '--max-bytes', '2048', '--window', '512', '--json']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.tokens).toBe(2047);
    expect(j.bits_per_token).toBeCloseTo(j.nll / Math.LN2, 12);
    expect(j.perplexity).toBeCloseTo(Math.exp(j.nll), 9);
    // A trained model is far better than the unigram baseline (4.8 bits/byte).
    expect(j.bits_per_token).toBeLessThan(3);
  });

  it('ssmc ir output re-parses to byte-identical text', async () => {
    const d = tmp();
    const a = await runCli(['ir', dir, '-o', join(d, 'a.ir')]);
    expect(a.code).toBe(0);
    const b = await runCli(['ir', join(d, 'a.ir'), '-o', join(d, 'b.ir')]);
    expect(b.code).toBe(0);
    expect(readFileSync(join(d, 'b.ir'), 'utf8')).toBe(readFileSync(join(d, 'a.ir'), 'utf8'));
    const p = await runCli(['ir', dir, '--mode', 'prefill', '--seq-len', '8']);
    expect(p.stdout).toContain('ssm.scan(');
  });

  it('ssmc inspect --json describes the model', async () => {
    const r = await runCli(['inspect', dir, '--json']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    expect(j.config.d_model).toBe(cfg.hidden_size);
    expect(j.config.n_layer).toBe(cfg.num_hidden_layers);
    expect(j.config.vocab_size).toBe(cfg.vocab_size);
    expect(j.config.d_state).toBe(cfg.state_size);
  });
});

describe('errors', () => {
  it('every command has --help and exits 0', async () => {
    for (const cmd of ['inspect', 'synth', 'ir', 'logits', 'eval', 'demo']) {
      const r = await runCli([cmd, '--help']);
      expect(r.code, cmd).toBe(0);
      expect(r.stdout, cmd).toContain(`Usage: ssmc ${cmd}`);
    }
  });

  it('a truncated safetensors file is a typed error with a location, no stack, no output', async () => {
    const d = tmp();
    const src = join(fixturesDir(), fixtureNames()[0]);
    writeFileSync(join(d, 'config.json'), readFileSync(join(src, 'config.json')));
    writeFileSync(join(d, 'model.safetensors'), readFileSync(join(src, 'model.safetensors')).subarray(0, 5000));
    const out = join(d, 'out.f32');
    const r = runBin(['logits', d, '--tokens', '1,2', '--out', out]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/error\[E_\w+\].*model\.safetensors/);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace without --debug
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(d).sort()).toEqual(['config.json', 'model.safetensors']);
  });

  it('bad flags are usage errors (exit 2) naming the flag', async () => {
    const dir = join(fixturesDir(), fixtureNames()[0]);
    const r = await runCli(['logits', dir, '--tokens', '1,x', '--out', '/dev/null']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--tokens');
    const w = await runCli(['eval', dir, '--text', join(dir, 'heldout.txt'), '--window', '0']);
    expect(w.code).toBe(2);
    expect(w.stderr).toContain('--window');
    const m = await runCli(['ir', dir, '--mode', 'sideways']);
    expect(m.code).toBe(2);
  });

  it('tokens outside the vocabulary are rejected before running', async () => {
    const dir = join(fixturesDir(), fixtureNames()[0]);
    const out = join(tmp(), 'x.f32');
    const r = await runCli(['logits', dir, '--tokens', '1,256', '--out', out]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('E_TOKENS');
    expect(existsSync(out)).toBe(false);
  });

  it('eval refuses non-byte-level models with a clear message', async () => {
    const d = join(tmp(), 'm');
    const c = { dModel: 8, nLayer: 1, vocabSize: 300, dState: 4, dConv: 4, expand: 2, dInner: 16, dtRank: 1, normEps: 1e-5, tiedHead: true, convBias: true, projBias: false };
    writeHfFolder(randomCheckpoint(c, 5), d);
    const text = join(fixturesDir(), fixtureNames()[0], 'heldout.txt');
    const r = await runCli(['eval', d, '--text', text, '--max-bytes', '600']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('E_UNSUPPORTED');
    expect(r.stderr).toContain('vocab 300');
  });

  it('a missing model path names the path', async () => {
    const r = await runCli(['inspect', '/nonexistent/model']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('/nonexistent/model');
  });
});
