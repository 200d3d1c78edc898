// Progress on the terminal (issue 6, item 5): compilation shows its steps (passes,
// cast, layout, emitting, the C compiler) as a bar on stderr, and so does the compile
// step of --backend c|opencl runs before eval's own bar; off a terminal or with --json
// nothing of it is written.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.ts';
import { writeHfFolder } from '../../src/frontend/hf-export.ts';
import { randomCheckpoint } from '../helpers/random-model.ts';

const tmp = mkdtempSync(join(tmpdir(), 'ssmc-progress-'));
const model = join(tmp, 'model');
writeHfFolder(randomCheckpoint({ dModel: 8, nLayer: 1, vocabSize: 256, dState: 4, dConv: 2, expand: 2, dInner: 16, dtRank: 4, normEps: 1e-5, tiedHead: true, convBias: true, projBias: false }, 3), model);
const text = join(tmp, 'text.txt');
writeFileSync(text, 'To be, or not to be, that is the question.\n'.repeat(4));

async function run(args: string[], isTTY: boolean) {
  let out = '';
  let err = '';
  const code = await main(args, { out: (s) => void (out += s), err: (s) => void (err += s), isTTY });
  return { code, out, err };
}

/** The bar's drawing: a carriage return, a label, then `[###...]` and the counts. */
const bar = (label: string) => new RegExp(`\\r(\\x1b\\[K)?${label}[^\\n]* \\[[#.]{28}\\] \\d+/\\d+ `);

describe('progress of compilation', () => {
  it('ssmc compile --target c (with a pipeline) shows cast, emitting and the C compiler on a terminal, ending with a cleared line', async () => {
    const r = await run(['compile', model, '--target', 'c', '--n', '2', '--method', 'magnitude', '-o', join(tmp, 'c-tty')], true);
    expect(r.code).toBe(0);
    expect(r.err).toMatch(bar('compile'));
    expect(r.err).toContain('emitting C kernels, runtime and weights');
    expect(r.err).toContain('running the C compiler (host)');
    expect(r.err).toMatch(/\[#{28}\] 3\/3/); // cast, emit, compiler: all steps done at the end
    expect(r.err.endsWith('\r\x1b[K')).toBe(true);
    expect(r.out).toMatch(/^wrote /); // stdout keeps only the result
  });

  it('ssmc compile --target opencl --no-build shows the layout and emitting steps', async () => {
    const r = await run(['compile', model, '--target', 'opencl', '--device', 'adreno', '--no-build', '-o', join(tmp, 'cl-tty')], true);
    expect(r.code).toBe(0);
    expect(r.err).toContain('layout for adreno');
    expect(r.err).toContain('emitting OpenCL kernels and host code');
    expect(r.err).not.toContain('C compiler');
  });

  it('off a terminal compile writes nothing to stderr', async () => {
    const r = await run(['compile', model, '--target', 'c', '--n', '2', '--method', 'magnitude', '--no-build', '-o', join(tmp, 'c-pipe')], false);
    expect(r.code).toBe(0);
    expect(r.err).toBe('');
  });
});

describe('progress of --backend c runs', () => {
  it('eval --backend c shows the compile step, then the eval bar; --json and no terminal show nothing', async () => {
    const args = ['eval', model, '--text', text, '--window', '64', '--backend', 'c'];
    const tty = await run(args, true);
    expect(tty.code).toBe(0);
    expect(tty.err).toMatch(bar('compile'));
    expect(tty.err).toContain('emitting C and running the C compiler');
    expect(tty.err).toMatch(bar('eval'));
    expect(tty.err.indexOf('compile')).toBeLessThan(tty.err.indexOf('eval'));
    const json = await run([...args, '--json'], true);
    expect(json.code).toBe(0);
    expect(json.err).toBe('');
    expect(JSON.parse(json.out).tokens).toBeGreaterThan(0);
    const pipe = await run(args, false);
    expect(pipe.code).toBe(0);
    expect(pipe.err).toBe('');
  });

  it('logits --backend c shows the compile step on a terminal only; --backend interp has none', async () => {
    const args = ['logits', model, '--tokens', '1,2,3', '--backend', 'c', '--out', join(tmp, 'l.f32')];
    expect((await run(args, true)).err).toMatch(bar('compile'));
    expect((await run(args, false)).err).toBe('');
    const interp = await run(['logits', model, '--tokens', '1,2,3', '--out', join(tmp, 'l2.f32')], true);
    expect(interp.code).toBe(0);
    expect(interp.err).not.toContain('compile');
  });
});
