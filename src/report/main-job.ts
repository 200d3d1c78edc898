// The main job (`npm start`): import a trained model, prune it (adaptive C_n^4, OBS),
// compile dense and sparse for the C backend, verify the compiled code against the
// interpreter, and measure what a user cares about. Returns the report; rendering and
// printing are the caller's.
import { readFileSync } from 'node:fs';
import { SsmcError } from '../errors.ts';
import { join } from 'node:path';
import { benchC } from '../backends/c/bench.ts';
import { compileCached } from '../backends/c/compile.ts';
import { CRunner } from '../backends/c/runner.ts';
import { InterpRunner } from '../backends/interp/runner.ts';
import { compileOpenCLCached } from '../backends/opencl/compile.ts';
import { OpenCLUnavailableError } from '../backends/opencl/errors.ts';
import { openclPipeline } from '../backends/opencl/layout.ts';
import { OpenCLRunner } from '../backends/opencl/runner.ts';
import { evaluateTokens } from '../eval/perplexity.ts';
import { parameterCount } from '../frontend/checkpoint.ts';
import { loadCheckpoint } from '../frontend/load.ts';
import { buildMambaGraph } from '../frontend/mamba-graph.ts';
import type { Graph } from '../ir/graph.ts';
import { walkNodes } from '../ir/graph.ts';
import { isConversion } from '../ir/ops/mem-convert.ts';
import { PassManager } from '../passes/index.ts';
import type { SparsityReport } from '../passes/sparsity/report.ts';
import { SPARSITY_REPORT_SERVICE } from '../passes/sparsity/report.ts';
import { generate } from '../runtime/generate.ts';
import type { ModelRunner } from '../runtime/runner.ts';
import { Prng } from '../util/prng.ts';

export interface MainJobOptions {
  /** Model folder holding heldout.txt and calib.txt beside the weights. */
  readonly model: string;
  readonly pipeline?: string;
  readonly calibTokens?: number;
  /** Held-out bytes to score (default: all). */
  readonly heldoutBytes?: number;
  readonly prompt?: string;
  readonly generateTokens?: number;
  readonly seed?: number;
  /** Progress of the current stage: (stage, done, total). */
  readonly onProgress?: (stage: string, done: number, total: number) => void;
}

export interface VariantReport {
  readonly heldout_bits_per_byte: number;
  readonly decode_tokens_per_s: number;
  readonly prefill_tokens_per_s: number;
  readonly weight_bytes_per_token: number;
  /** max |logit(C) - logit(interpreter)| over the verification tokens, and relative to max |logit|. */
  readonly verify_max_abs: number;
  readonly verify_rel: number;
  readonly continuation: string;
}

export interface MainJobReport {
  readonly model: { readonly path: string; readonly parameters: number; readonly d_model: number; readonly n_layer: number };
  readonly pipeline: string;
  readonly prune_seconds: number;
  readonly sparsity: SparsityReport | null;
  readonly heldout_bytes: number;
  readonly verify_tokens: number;
  readonly backend: string;
  readonly prompt: string;
  readonly dense: VariantReport;
  readonly sparse: VariantReport;
  readonly opencl: OpenCLReport | { readonly skipped: string };
}

export interface OpenCLReport {
  readonly device: string;
  readonly platform_note: string;
  /** Conversion kernels left after select-layout + materialize-layout, per token. */
  readonly conversions: { readonly dense: number; readonly sparse: number };
  readonly verify_max_abs: { readonly dense: number; readonly sparse: number };
  readonly verify_rel: { readonly dense: number; readonly sparse: number };
}

/** The report, plus what the pictures are drawn from. */
export interface MainJobResult {
  readonly report: MainJobReport;
  /** The pruned graph after the OpenCL layout pipeline (fused groups, memory kinds, C_n^4 annotations). */
  readonly sparseLaidOut: Graph;
}

// reorder-weights makes rows with equal n contiguous, so the packed format stores whole
// tiles; with rows of interleaved n every row is its own segment and decode is ~10x slower.
export const DEFAULT_PIPELINE = 'sparsify-cn4{method=obs pattern=adaptive sparsity=0.5},reorder-weights';

export function runMainJob(o: MainJobOptions): MainJobResult {
  const progress = o.onProgress ?? (() => {});
  const ck = loadCheckpoint(o.model);
  const dense = buildMambaGraph(ck, { mode: 'decode' });
  const calib = readText(o.model, 'calib.txt', 'the calibration text for pruning').subarray(0, o.calibTokens ?? 8192);
  const heldAll = readText(o.model, 'heldout.txt', 'the held-out text for bits per byte');
  const held = Int32Array.from(heldAll.subarray(0, o.heldoutBytes ?? heldAll.length));
  const pipeline = o.pipeline ?? DEFAULT_PIPELINE;

  progress('prune', 0, 1);
  let sparsity: SparsityReport | null = null;
  const t0 = performance.now();
  const sparse = new PassManager(pipeline).run(dense, {
    services: { calibration: { tokens: Int32Array.from(calib) }, [SPARSITY_REPORT_SERVICE]: (r: SparsityReport) => (sparsity = r) },
  }).graph;
  const pruneSeconds = (performance.now() - t0) / 1000;
  progress('prune', 1, 1);

  const prompt = o.prompt ?? 'ROMEO:\n';
  const variant = (name: string, graph: Graph): VariantReport => {
    progress(`compile ${name}`, 0, 1);
    const { dir } = compileCached(graph, { build: { opt: '-O3', cflags: ['-march=native'] } });
    const runner = new CRunner(dir);
    try {
      const verify = verifyAgainstInterpreter(runner, graph, held.subarray(0, 64));
      const r = evaluateTokens(runner, held, { window: 512, onProgress: (d, t) => progress(`held-out ${name}`, d, t) });
      const rng = new Prng(o.seed ?? 1, 'sampling');
      const out = generate(runner, Int32Array.from(Buffer.from(prompt, 'latin1')), { maxTokens: o.generateTokens ?? 200, temperature: 0.7, random: () => rng.float() });
      const speed = benchC(dir, { threads: 1, tokens: 512, prefill: 512 });
      return {
        heldout_bits_per_byte: r.bits_per_token,
        decode_tokens_per_s: speed.decode_tokens_per_s,
        prefill_tokens_per_s: speed.prefill_tokens_per_s,
        weight_bytes_per_token: speed.weight_bytes_per_token,
        verify_max_abs: verify.maxAbs,
        verify_rel: verify.rel,
        continuation: Buffer.from(out).toString('latin1'),
      };
    } finally {
      runner.close();
    }
  };
  const denseReport = variant('dense', dense);
  const sparseReport = variant('sparse', sparse);
  progress('opencl', 0, 1);
  const device = 'adreno';
  const layout = (g: Graph) => new PassManager(openclPipeline(device).pipeline).run(g).graph;
  const laid = { dense: layout(dense), sparse: layout(sparse) };
  const opencl = openclCheck(device, laid.dense, laid.sparse, held.subarray(0, 64));
  progress('opencl', 1, 1);
  const report: MainJobReport = {
    model: { path: o.model, parameters: parameterCount(ck.config), d_model: ck.config.dModel, n_layer: ck.config.nLayer },
    pipeline,
    prune_seconds: pruneSeconds,
    sparsity,
    heldout_bytes: held.length,
    verify_tokens: Math.min(64, held.length),
    backend: 'c (host, 1 thread)',
    prompt,
    dense: denseReport,
    sparse: sparseReport,
    opencl,
  };
  return { report, sparseLaidOut: laid.sparse };
}

/** Steps both runners through the same tokens from a zero state; the largest logit difference. */
function verifyAgainstInterpreter(runner: ModelRunner, graph: Graph, tokens: Int32Array): { maxAbs: number; rel: number } {
  const ref = new InterpRunner(graph);
  runner.reset();
  let maxAbs = 0;
  let scale = 0;
  for (const t of tokens) {
    const a = runner.step(t);
    const b = ref.step(t);
    for (let i = 0; i < a.length; i++) {
      maxAbs = Math.max(maxAbs, Math.abs(a[i] - b[i]));
      scale = Math.max(scale, Math.abs(b[i]));
    }
  }
  ref.close();
  return { maxAbs, rel: scale > 0 ? maxAbs / scale : 0 };
}

/**
 * Compiles both laid-out graphs for OpenCL (Adreno layout choices) and checks them
 * against the interpreter on whatever platform this machine has (PoCL here: a CPU, so no
 * speed figure is reported). Without a platform the report says what is missing.
 */
function openclCheck(device: string, dense: Graph, sparse: Graph, tokens: Int32Array): OpenCLReport | { skipped: string } {
  const one = (laid: Graph) => {
    const conversions = [...walkNodes(laid)].filter((n) => isConversion(n.op)).length;
    const { dir } = compileOpenCLCached(laid, {});
    const runner = new OpenCLRunner(dir);
    try {
      return { conversions, ...verifyAgainstInterpreter(runner, laid, tokens) };
    } finally {
      runner.close();
    }
  };
  try {
    const d = one(dense);
    const s = one(sparse);
    return {
      device,
      platform_note: 'run on the first OpenCL platform found (PoCL on a CPU here): correctness only, no phone-GPU speed',
      conversions: { dense: d.conversions, sparse: s.conversions },
      verify_max_abs: { dense: d.maxAbs, sparse: s.maxAbs },
      verify_rel: { dense: d.rel, sparse: s.rel },
    };
  } catch (e) {
    if (e instanceof OpenCLUnavailableError) return { skipped: e.message };
    throw e;
  }
}

/** A text file the main job needs beside the model's weights; E_IO naming it and its role. */
function readText(model: string, name: string, role: string): Uint8Array {
  const file = join(model, name);
  try {
    return readFileSync(file);
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing' : (e as Error).message;
    throw new SsmcError('E_IO', `${why}: the main job reads ${role} from ${name} in the model folder`, { file });
  }
}
