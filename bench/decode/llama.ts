// llama.cpp decode speed through node-llama-cpp (3.21.1, installed in bench/node_modules
// by `npm run setup`; CPU only). Decode is measured the way ssmc's driver measures it:
// one token per evaluation, each producing the next-token logits (greedy), after a
// warm-up, timed over `tokens` steps.
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const ENTRY = join(import.meta.dirname, '..', 'node_modules', 'node-llama-cpp', 'dist', 'index.js');

/* eslint-disable @typescript-eslint/no-explicit-any */
export interface LlamaBench {
  /** Decode tokens/s of the model at `path` with `threads` threads. */
  decode(path: string, threads: number, tokens: number): Promise<number>;
  dispose(): Promise<void>;
}

export async function openLlama(): Promise<LlamaBench> {
  const { getLlama } = (await import(pathToFileURL(ENTRY).href)) as any;
  // maxThreads 0: a context's thread count is used exactly, not as a hint.
  const llama = await getLlama({ gpu: false, maxThreads: 0, logLevel: 'error' });
  const models = new Map<string, any>();
  const contexts = new Map<string, any>();
  return {
    async decode(path, threads, tokens) {
      if (!models.has(path)) models.set(path, await llama.loadModel({ modelPath: path, gpuLayers: 0 }));
      const key = `${path}|${threads}`;
      if (!contexts.has(key)) contexts.set(key, await models.get(path).createContext({ contextSize: 2048, threads, batchSize: 512 }));
      const seq = contexts.get(key).getSequence();
      const step = async (t: number) => (await seq.controlledEvaluate([[t, { generateNext: { token: true } }]]))[0];
      await step(1);
      await step(2); // warm-up
      let tok = 3;
      const t0 = performance.now();
      for (let i = 0; i < tokens; i++) {
        await step(tok);
        tok = (tok * 7919 + 13) % 50000;
      }
      const secs = (performance.now() - t0) / 1000;
      seq.dispose();
      return tokens / secs;
    },
    async dispose() {
      for (const c of contexts.values()) await c.dispose();
      for (const m of models.values()) await m.dispose();
    },
  };
}
