// The main job (`npm start`): the embedded trained model end to end. Later issues add
// pruning, compilation and the report; for now: import, graph, generation, held-out bpb.
import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { evaluateTokens } from '../../eval/perplexity.ts';
import { parameterCount } from '../../frontend/checkpoint.ts';
import { buildMambaGraph } from '../../frontend/mamba-graph.ts';
import { generate } from '../../runtime/generate.ts';
import { Prng } from '../../util/prng.ts';
import type { CliIO } from '../io.ts';
import { intArg, printJson } from '../io.ts';
import { loadModel, makeRunner } from '../model.ts';
import { progressBar } from '../progress.ts';

export const DEFAULT_MODEL = resolve(dirname(fileURLToPath(import.meta.url)), '../../../models/mamba-shakespeare-s');

export function registerDemo(program: Command, io: CliIO): Command {
  return program
    .command('demo')
    .description('the main job on the embedded trained model: import, build the graph, generate, measure held-out bits per byte')
    .option('--model <dir>', 'model folder with heldout.txt beside it', DEFAULT_MODEL)
    .option('--prompt <text>', 'prompt to continue', 'ROMEO:\n')
    .option('-n, --tokens <n>', 'bytes to generate', intArg(1, 100000), 200)
    .option('--max-bytes <n>', 'held-out bytes to score', intArg(2), 20000)
    .option('--json', 'print JSON')
    .action((o: { model: string; prompt: string; tokens: number; maxBytes: number; json?: boolean }) => {
      const t0 = performance.now();
      const ck = loadModel(o.model);
      const graph = buildMambaGraph(ck, { mode: 'decode' });
      const tImport = performance.now() - t0;
      const runner = makeRunner(graph, 'interp');
      try {
        const t1 = performance.now();
        const out = generate(runner, Int32Array.from(Buffer.from(o.prompt, 'latin1')), { maxTokens: o.tokens, temperature: 0.7, random: seededRandom(1) });
        const genSecs = (performance.now() - t1) / 1000;
        const text = Buffer.from(out).toString('latin1');
        const held = readFileSync(join(o.model, 'heldout.txt')).subarray(0, o.maxBytes);
        const bar = progressBar(io, 'held-out', o.json);
        const t2 = performance.now();
        const r = evaluateTokens(runner, Int32Array.from(held), { window: 512, onProgress: bar.update });
        bar.done();
        const evalSecs = (performance.now() - t2) / 1000;
        const report = {
          model: o.model,
          parameters: parameterCount(ck.config),
          graph: { nodes: graph.nodes.length, weights: graph.weights.length },
          import_ms: Math.round(tImport),
          prompt: o.prompt,
          continuation: text,
          decode_tokens_per_s: o.tokens / genSecs,
          heldout: { bytes: held.length, bits_per_byte: r.bits_per_token, scored: r.tokens, tokens_per_s: r.tokens / evalSecs },
        };
        if (o.json) return printJson(io, report);
        io.out(`ssmc demo — ${o.model}\n`);
        io.out(`  model        ${report.parameters.toLocaleString('en-US')} parameters, decode graph of ${report.graph.nodes} nodes, imported in ${report.import_ms} ms\n`);
        io.out(`  generation   ${o.tokens} bytes at ${report.decode_tokens_per_s.toFixed(1)} tokens/s (interpreter, temperature 0.7, seed 1)\n`);
        io.out(`\n${o.prompt}${text}\n\n`);
        io.out(`  held-out     ${r.bits_per_token.toFixed(4)} bits/byte over the first ${held.length} bytes of heldout.txt (${r.tokens} scored, windows of 512)\n`);
      } finally {
        runner.close();
      }
    });
}

function seededRandom(seed: number): () => number {
  const rng = new Prng(seed, 'sampling');
  return () => rng.float();
}
