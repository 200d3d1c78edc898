// ssmc run: streamed continuations on the embedded model and on models with their own vocabulary.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InterpRunner } from '../../src/backends/interp/runner.ts';
import { main } from '../../src/cli/main.ts';
import type { MambaConfig } from '../../src/frontend/checkpoint.ts';
import { gpt2ByteToUnicode, writeGgufMamba } from '../../src/frontend/gguf-mamba.ts';
import { writeHfFolder } from '../../src/frontend/hf-export.ts';
import { loadCheckpoint } from '../../src/frontend/load.ts';
import { buildMambaGraph } from '../../src/frontend/mamba-graph.ts';
import { generate } from '../../src/runtime/generate.ts';
import { loadHfTokenizer } from '../../src/tokenizer/index.ts';
import { runCli } from '../helpers/cli.ts';
import { repoRoot } from '../helpers/paths.ts';
import { randomCheckpoint } from '../helpers/random-model.ts';

const model = join(repoRoot, 'models/mamba-shakespeare-s');
const tmp = () => mkdtempSync(join(tmpdir(), 'ssmc-run-'));
const prompt = 'ROMEO:\nWhat light';
const small = (vocabSize: number): MambaConfig => ({ dModel: 8, nLayer: 1, vocabSize, dState: 4, dConv: 4, expand: 2, dInner: 16, dtRank: 1, normEps: 1e-5, tiedHead: true, convBias: true, projBias: false });

/** The greedy continuation computed through the library, independently of the command. */
function greedyBytes(path: string, text: string, n: number): Uint8Array {
  const runner = new InterpRunner(buildMambaGraph(loadCheckpoint(path), { mode: 'decode' }));
  try {
    return Uint8Array.from(generate(runner, Int32Array.from(new TextEncoder().encode(text)), { maxTokens: n, temperature: 0 }));
  } finally {
    runner.close();
  }
}

describe('ssmc run', () => {
  it('prints nothing but the continuation, streamed piece by piece, and nothing on stderr', async () => {
    const writes: string[] = [];
    let stderr = '';
    const code = await main(['run', model, '--prompt', prompt, '-n', '48', '--temperature', '0'], { out: (s) => void writes.push(s), err: (s) => void (stderr += s), isTTY: false });
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const want = new TextDecoder().decode(greedyBytes(model, prompt, 48));
    expect(writes.join('')).toBe(want);
    expect(writes.length).toBeGreaterThan(10); // one write per decoded piece, not one at the end
    expect(want.length).toBeGreaterThan(0);
  });

  it('sampling is deterministic for a seed and depends on it', async () => {
    const args = ['run', model, '--prompt', prompt, '-n', '40'];
    const a = await runCli([...args, '--seed', '7']);
    const b = await runCli([...args, '--seed', '7']);
    const c = await runCli([...args, '--seed', '8']);
    expect(a.code).toBe(0);
    expect(a.stdout).toBe(b.stdout);
    expect(a.stdout).not.toBe(c.stdout);
    expect(new TextEncoder().encode(a.stdout).length).toBeLessThanOrEqual(40 * 3); // U+FFFD for a cut character is 3 bytes
    const d = await runCli([...args]); // default seed 0, temperature 0.8
    expect(d.stdout).toBe((await runCli([...args, '--seed', '0', '--temperature', '0.8'])).stdout);
  });

  it('greedy output is the same on the interpreter and the C backend', async () => {
    const args = ['run', model, '--prompt', prompt, '-n', '32', '--temperature', '0'];
    const i = await runCli([...args, '--backend', 'interp']);
    const c = await runCli([...args, '--backend', 'c']);
    expect(i.code).toBe(0);
    expect(c.stderr).toBe('');
    expect(c.code).toBe(0);
    expect(c.stdout).toBe(i.stdout);
  });

  it('on a terminal a summary goes to stderr; stdout is unchanged', async () => {
    let out = '';
    let err = '';
    const code = await main(['run', model, '--prompt', prompt, '-n', '8', '--temperature', '0'], { out: (s) => void (out += s), err: (s) => void (err += s), isTTY: true });
    expect(code).toBe(0);
    expect(out).toBe(new TextDecoder().decode(greedyBytes(model, prompt, 8)));
    expect(err).toMatch(/8 generated .* tokens\/s/);
  });

  it('a model with vocab != 256 and no tokenizer is a clear E_TOKENS', async () => {
    const d = join(tmp(), 'm');
    writeHfFolder(randomCheckpoint(small(300), 5), d);
    const r = await runCli(['run', d, '--prompt', 'hi']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('E_TOKENS');
    expect(r.stderr).toContain('tokenizer.json');
    expect(r.stderr).toContain('300');
  });

  it('an empty prompt without a BOS token is a usage error', async () => {
    const r = await runCli(['run', model, '--prompt', '']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--prompt');
  });

  it('uses the tokenizer.json of an HF folder', async () => {
    const d = tmp();
    const B = gpt2ByteToUnicode();
    const vocab: Record<string, number> = { '<|endoftext|>': 0 };
    for (let b = 0; b < 256; b++) vocab[B[b]] = b + 1;
    vocab['Ġt'] = 257;
    vocab.he = 258;
    vocab['Ġthe'] = 259;
    const json = join(d, 'tokenizer.json');
    writeFileSync(json, JSON.stringify({
      added_tokens: [{ id: 0, content: '<|endoftext|>', special: true }],
      normalizer: null,
      pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, use_regex: true },
      decoder: { type: 'ByteLevel' },
      model: { type: 'BPE', vocab, merges: ['Ġ t', 'h e', 'Ġt he'] },
    }));
    const folder = join(d, 'm');
    writeHfFolder({ ...randomCheckpoint(small(264), 6), tokenizer: { kind: 'hf-json', path: json } }, folder);
    const args = ['run', folder, '--prompt', 'say the', '-n', '12', '--ignore-eos'];
    const r = await runCli([...args, '--temperature', '0']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    // The same continuation through the library: tokenize, greedy, decode.
    const tok = loadHfTokenizer(json);
    const runner = new InterpRunner(buildMambaGraph(loadCheckpoint(folder), { mode: 'decode' }));
    const ids = generate(runner, tok.encode('say the'), { maxTokens: 12, temperature: 0 });
    runner.close();
    expect(r.stdout).toBe(tok.decode(ids));
    // At the end-of-text token generation stops (the random model may or may not produce it).
    const s = await runCli(['run', folder, '--prompt', 'say the', '-n', '12', '--temperature', '0']);
    const stop = ids.indexOf(0);
    expect(s.stdout).toBe(tok.decode(stop < 0 ? ids : ids.slice(0, stop)));
  });

  it('uses the vocabulary embedded in a GGUF file', async () => {
    const p = join(tmp(), 'm.gguf');
    writeGgufMamba(randomCheckpoint(small(256), 7), p, { fileType: 'f32' });
    const r = await runCli(['run', p, '--prompt', 'abc', '-n', '16', '--temperature', '0', '--ignore-eos']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(new TextDecoder().decode(greedyBytes(p, 'abc', 16)));
  });
});
