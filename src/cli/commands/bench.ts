// ssmc bench: decode and prefill tokens/s, weight bytes read per token and peak memory
// of a model (any importable one) on a backend, after the pipeline the flags ask for
// and the storage dtype cast. The C backend is built with -O3 -march=native (this
// machine's widest loads and F16C / FMA through SIMDe) and timed by its own driver.
import type { Command } from 'commander';
import { benchC } from '../../backends/c/bench.ts';
import { compileCached } from '../../backends/c/compile.ts';
import { InterpRunner } from '../../backends/interp/runner.ts';
import type { Graph, Region } from '../../ir/graph.ts';
import { numel } from '../../ir/types.ts';
import { PassManager } from '../../passes/index.ts';
import type { CliIO } from '../io.ts';
import { choiceArg, intArg, printJson } from '../io.ts';
import { decodeGraph, loadModel } from '../model.ts';
import type { PipelineFlags } from '../pipeline-flags.ts';
import { addPipelineFlags, noteInterleavedCn4 } from '../pipeline-flags.ts';
import { compileStep, withStep } from '../progress.ts';
import { dtypePipeline } from './compile.ts';

interface BenchOpts extends PipelineFlags {
  backend: 'c' | 'interp';
  threads: number;
  tokens?: number;
  prefill: number;
  dtype: 'f32' | 'f16';
  json?: boolean;
}

export interface BenchReport {
  decode_tokens_per_s: number;
  /** Prompt with every token's logits. */
  prefill_tokens_per_s: number;
  /** Prompt with the last token's logits only (generation's prefill). */
  prefill_last_tokens_per_s: number;
  weight_bytes_per_token: number;
  threads: number;
  backend: 'c' | 'interp';
  dtype: 'f32' | 'f16';
  decode_tokens: number;
  prefill_tokens: number;
  peak_rss_bytes: number;
}

export function registerBench(program: Command, io: CliIO): Command {
  const cmd = program
    .command('bench')
    .description('decode and prefill tokens/s, weight bytes read per token and peak memory of a model on a backend')
    .argument('<model>', 'HF folder, .safetensors file or .gguf file')
    .option('--backend <name>', 'c or interp', choiceArg(['c', 'interp'] as const), 'c')
    .option('--threads <n>', 'threads (C backend)', intArg(1, 256), 1)
    .option('--tokens <n>', 'decode steps timed (default 128 for c, 8 for interp)', intArg(1))
    .option('--prefill <n>', 'prompt length of the timed prefills (0: none): prefill_tokens_per_s computes every token\'s logits, prefill_last_tokens_per_s the last token\'s (as generation does)', intArg(0), 512)
    .option('--dtype <dtype>', 'storage dtype of the linear and embedding weights (cast-weights after the pipeline)', choiceArg(['f32', 'f16'] as const), 'f32')
    .option('--json', 'print one JSON object');
  return addPipelineFlags(cmd).action((model: string, o: BenchOpts) => {
    let graph = decodeGraph(loadModel(model), o, io);
    graph = new PassManager(dtypePipeline(o.dtype)).run(graph).graph;
    const r = o.backend === 'c' ? benchCBackend(graph, o, io) : benchInterp(graph, o);
    if (o.json) return printJson(io, r);
    io.out(
      `${o.backend} ${o.dtype}, ${r.threads} thread${r.threads === 1 ? '' : 's'}: decode ${r.decode_tokens_per_s.toFixed(2)} tokens/s (${r.decode_tokens} tokens), ` +
        `prefill ${r.prefill_tokens_per_s.toFixed(2)} tokens/s (${r.prefill_tokens} tokens; last logits only ${r.prefill_last_tokens_per_s.toFixed(2)}), ${(r.weight_bytes_per_token / 1e6).toFixed(1)} MB weights read per token, ` +
        `peak RSS ${(r.peak_rss_bytes / 2 ** 20).toFixed(0)} MiB\n`,
    );
  });
}

function benchCBackend(graph: Graph, o: BenchOpts, io: CliIO): BenchReport {
  noteInterleavedCn4(graph, io);
  const { dir } = withStep(io, 'compile', compileStep('c')!, o.json, () => compileCached(graph, { threads: o.threads, build: { opt: '-O3', cflags: ['-march=native'] } }));
  const r = benchC(dir, { threads: o.threads, tokens: o.tokens ?? 128, prefill: o.prefill });
  return { ...r, backend: 'c', dtype: o.dtype };
}

function benchInterp(graph: Graph, o: BenchOpts): BenchReport {
  const runner = new InterpRunner(graph);
  const V = runner.vocabSize;
  const n = o.tokens ?? 8;
  runner.step(1); // warm-up: JIT, weight decoding
  let t0 = performance.now();
  for (let i = 0; i < n; i++) runner.step((i * 7919) % V);
  const dec = (performance.now() - t0) / 1000;
  let pre = 0;
  if (o.prefill > 0) {
    runner.reset();
    const toks = Int32Array.from({ length: o.prefill }, (_, i) => (i * 7919) % V);
    t0 = performance.now();
    runner.prefill(toks);
    pre = (performance.now() - t0) / 1000;
  }
  runner.close();
  return {
    decode_tokens_per_s: n / dec,
    prefill_tokens_per_s: pre > 0 ? o.prefill / pre : 0,
    // The interpreter computes every token's logits either way.
    prefill_last_tokens_per_s: pre > 0 ? o.prefill / pre : 0,
    weight_bytes_per_token: weightBytesPerToken(graph),
    threads: 1,
    backend: 'interp',
    dtype: o.dtype,
    decode_tokens: n,
    prefill_tokens: o.prefill,
    peak_rss_bytes: process.resourceUsage().maxRSS * 1024,
  };
}

/** Weight bytes a decode step reads, as the graph stores them: every use once, one row of an embedding lookup. */
export function weightBytesPerToken(graph: Graph): number {
  const decls = new Map(graph.weights.map((w) => [w.name, w]));
  const bytes = (dtype: string) => (dtype === 'f16' || dtype === 'bf16' ? 2 : 4);
  let total = 0;
  const visit = (r: Region, bind: ReadonlyMap<string, string>) => {
    for (const node of r.nodes) {
      const ins = node.inputs.map((x) => bind.get(x) ?? x);
      ins.forEach((x, i) => {
        const w = decls.get(x);
        if (!w) return;
        const size = numel(w.type.shape) * bytes(w.type.dtype);
        total += node.op === 'nn.embedding' && i === 0 ? size / w.type.shape[0] : size;
      });
      if (node.body) visit(node.body, new Map([...bind, ...node.body.inputs.map((p, i): [string, string] => [p.name, ins[i]])]));
    }
  };
  visit(graph, new Map());
  return Math.round(total);
}
