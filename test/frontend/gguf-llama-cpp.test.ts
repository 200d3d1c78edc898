// Loads our GGUF exports in a real llama.cpp and compares its next-byte distributions with
// the fixture's reference logits. llama.cpp comes from node-llama-cpp@3.21.1, installed
// into bench/ by `npm run setup` (SSMC_NODE_LLAMA_CPP may point at another install).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { writeGgufMamba } from '../../src/frontend/gguf-mamba.ts';
import { loadHfFolder } from '../../src/frontend/hf-import.ts';
import { writeSynthModel } from '../../src/frontend/synth.ts';
import { SHAKESPEARE, tmpDir } from './_helpers.ts';
import { repoRoot } from '../helpers/paths.ts';

const dir = process.env.SSMC_NODE_LLAMA_CPP ?? join(repoRoot, 'bench');
const entry = join(dir, 'node_modules', 'node-llama-cpp', 'dist', 'index.js');

describe('llama.cpp loads our GGUF files', () => {
  it('is installed (npm run setup)', () => {
    expect(existsSync(entry), `${entry} missing: run npm run setup`).toBe(true);
  });

  it('reproduces the fixture reference distributions (f32 and f16) and tokenizes bytes', async () => {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const { getLlama } = (await import(pathToFileURL(entry).href)) as any;
    const llama = await getLlama({ gpu: false, logLevel: 'error' });
    const ref = JSON.parse(readFileSync(join(SHAKESPEARE, 'reference.json'), 'utf8')) as { tokens: number[] };
    const logits = new Float32Array(new Uint8Array(readFileSync(join(SHAKESPEARE, 'reference_logits.f32'))).buffer);
    const ck = loadHfFolder(SHAKESPEARE);
    const out = tmpDir();
    for (const [fileType, tol] of [['f32', 1e-4], ['f16', 5e-3]] as const) {
      const path = join(out, `shk-${fileType}.gguf`);
      writeGgufMamba(ck, path, { fileType });
      const model = await llama.loadModel({ modelPath: path });
      expect(Array.from(model.tokenize('GREMIO:\nHi'))).toEqual([...Buffer.from('GREMIO:\nHi')]);
      const ctx = await model.createContext({ contextSize: 256 });
      const seq = ctx.getSequence();
      const res = await seq.controlledEvaluate(
        ref.tokens.map((t) => [t, { generateNext: { probabilities: true, options: { temperature: 1, topK: 0, topP: 1, minP: 0 } } }]),
      );
      for (let t = 0; t < ref.tokens.length; t++) {
        const row = logits.subarray(t * 256, t * 256 + 256);
        const m = Math.max(...row);
        let z = 0;
        for (const x of row) z += Math.exp(x - m);
        const probs: Map<number, number> = res[t].next.probabilities;
        for (let v = 0; v < 256; v++) expect(Math.abs((probs.get(v) ?? 0) - Math.exp(row[v] - m) / z)).toBeLessThan(tol);
      }
      await ctx.dispose();
      await model.dispose();
    }
    // a synthetic model with the 50280-token filler vocabulary loads too
    const g = writeSynthModel('130m', join(out, 'synth-130m.gguf'), { seed: 1, format: 'gguf', dtype: 'f16' });
    const synth = await llama.loadModel({ modelPath: g });
    expect(Array.from(synth.tokenize('ab'))).toEqual([97, 98]);
    await synth.dispose();
  });
});
