// The pipeline flags shared by commands that run a model: `--pipeline P` (the one way
// to configure passes), the sparsification shorthands that expand into it, the
// calibration text, and `--print-ir-after`.
import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { SsmcError } from '../errors.ts';
import type { Graph } from '../ir/graph.ts';
import { PassManager } from '../passes/index.ts';
import type { CliIO } from './io.ts';
import { choiceArg, floatArg, intArg } from './io.ts';
import { progressBar } from './progress.ts';

export interface PipelineFlags {
  pipeline?: string;
  sparsity?: number;
  method?: string;
  pattern?: string;
  n?: number;
  latency?: number;
  calib?: string;
  calibTokens?: number;
  printIrAfter?: string;
}

export function addPipelineFlags(cmd: Command): Command {
  return cmd
    .option('--pipeline <passes>', 'pass pipeline, e.g. "sparsify-cn4{sparsity=0.5 method=obs},reorder-weights,dce"')
    .option('--sparsity <S>', 'shorthand: sparsify-cn4 with this overall sparsity (adaptive n per row; where the model is then run or compiled, rows are also reordered by n)', floatArg(0, 0.999999))
    .option('--method <m>', 'shorthand: pruning method', choiceArg(['magnitude', 'wanda', 'obs'] as const))
    .option('--pattern <p>', 'shorthand: uniform (same n everywhere) or adaptive', choiceArg(['uniform', 'adaptive'] as const))
    .option('--n <n>', 'shorthand: n pruned of every 4 (pattern uniform)', intArg(0, 4))
    .option('--latency <L>', 'shorthand: adaptive under this estimated decode-time budget (fraction of dense)', floatArg(0, 1))
    .option('--calib <file>', 'calibration text for the pruning statistics (byte-level models)')
    .option('--calib-tokens <N>', 'calibration tokens to use (default: all of --calib)', intArg(1))
    .option('--print-ir-after <pass>', 'print the IR (to stderr) after this pass, or "all"');
}

/** How the shorthand flags expand. */
export interface ShorthandOptions {
  /**
   * Append `reorder-weights` to an adaptive shorthand: rows with equal n become contiguous
   * runs, which the packed format stores as whole tiles (interleaved n make one short
   * segment per row, and the compiled kernels pay per segment). Numerically a no-op; off
   * for `ssmc prune`, whose checkpoint keeps the original row order.
   */
  readonly reorder?: boolean;
}

/** The pipeline string the flags describe, or undefined when none is asked for. */
export function pipelineFromFlags(f: PipelineFlags, so: ShorthandOptions = {}): string | undefined {
  const shorthand = f.sparsity !== undefined || f.method !== undefined || f.pattern !== undefined || f.n !== undefined || f.latency !== undefined;
  if (f.pipeline !== undefined && shorthand) {
    throw new SsmcError('E_ARG', '--pipeline cannot be combined with the shorthand flags (--sparsity/--method/--pattern/--n/--latency); put the options into the pipeline');
  }
  if (f.pipeline !== undefined) return f.pipeline;
  if (!shorthand) return undefined;
  const opts: string[] = [];
  const pattern = f.pattern ?? (f.n !== undefined ? 'uniform' : 'adaptive');
  if (pattern === 'uniform' && (f.sparsity !== undefined || f.latency !== undefined)) throw new SsmcError('E_ARG', '--pattern uniform takes --n, not --sparsity/--latency');
  if (pattern === 'adaptive' && f.n !== undefined) throw new SsmcError('E_ARG', '--n goes with --pattern uniform');
  opts.push(`method=${f.method ?? 'obs'}`, `pattern=${pattern}`);
  if (f.n !== undefined) opts.push(`n=${f.n}`);
  if (f.sparsity !== undefined) opts.push(`sparsity=${f.sparsity}`);
  if (f.latency !== undefined) opts.push(`latency=${f.latency}`);
  const sparsify = `sparsify-cn4{${opts.join(' ')}}`;
  return so.reorder && pattern === 'adaptive' ? `${sparsify},reorder-weights` : sparsify;
}

/** Calibration tokens (bytes of the text) as the passes' `calibration` service. */
export function calibrationService(f: PipelineFlags): { tokens: Int32Array } | undefined {
  if (f.calib === undefined) return undefined;
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(f.calib);
  } catch (e) {
    throw new SsmcError('E_IO', `cannot read: ${(e as Error).message}`, { file: f.calib });
  }
  if (f.calibTokens !== undefined) {
    if (f.calibTokens > bytes.length) throw new SsmcError('E_ARG', `--calib-tokens ${f.calibTokens} asks for more than the ${bytes.length} tokens in the calibration text`, { file: f.calib });
    bytes = bytes.subarray(0, f.calibTokens);
  }
  return { tokens: Int32Array.from(bytes) };
}

/** Runs the pipeline the flags ask for on `graph` (unchanged when none). */
export function applyPipelineFlags(graph: Graph, f: PipelineFlags & { json?: boolean }, io: CliIO, extraServices: Record<string, unknown> = {}, so: ShorthandOptions = {}): Graph {
  const pipeline = pipelineFromFlags(f, so);
  if (pipeline === undefined) {
    if (f.printIrAfter !== undefined) throw new SsmcError('E_ARG', '--print-ir-after needs a pipeline (--pipeline or the shorthand flags)');
    return graph;
  }
  const calibration = calibrationService(f);
  const bar = progressBar(io, 'passes', f.json);
  const pm = new PassManager(pipeline, {
    printIrAfter: f.printIrAfter === undefined ? undefined : f.printIrAfter === 'all' ? 'all' : [f.printIrAfter],
    onIr: (pass, text) => io.err(`// ----- IR after ${pass} -----\n${text}`),
    services: { ...(calibration ? { calibration } : {}), ...extraServices },
    onProgress: (pass, stage, done, total) => bar.update(done, total, `${pass}: ${stage}`),
  });
  try {
    return pm.run(graph).graph;
  } finally {
    bar.done();
  }
}

/** C_n^4 weights whose rows of equal n are not contiguous (more runs of n than values of n). */
export function interleavedCn4(g: Graph): string[] {
  const out: string[] = [];
  for (const w of g.weights) {
    const cn4 = w.type.cn4;
    if (!cn4) continue;
    let runs = 0;
    for (let r = 0; r < cn4.length; r++) if (r === 0 || cn4[r] !== cn4[r - 1]) runs++;
    if (runs > new Set(cn4).size) out.push(w.name);
  }
  return out;
}

/**
 * Before compiling for a native backend: a note on stderr when C_n^4 rows of different n
 * are left interleaved (a pipeline without reorder-weights), which the packed file stores
 * as one segment per run and the kernels take row by row (~10x slower decode).
 */
export function noteInterleavedCn4(g: Graph, io: CliIO): void {
  const w = interleavedCn4(g);
  if (!w.length) return;
  const names = `${w.slice(0, 3).map((n) => `@${n}`).join(', ')}${w.length > 3 ? ', ...' : ''}`;
  io.err(
    `note: ${w.length} C_n^4 weight${w.length === 1 ? '' : 's'} (${names}) hold rows of different n interleaved: the packed file stores one segment per run of equal n and the kernels take short runs row by row; add reorder-weights after the pruning pass (numerically a no-op) for whole tiles\n`,
  );
}
