// The pass manager (after MLIR's PassManager): built from a pipeline string, it runs
// the passes in order, verifies the graph after each one, times them, hands the IR text
// after chosen passes to a callback (the library never prints), caches analyses per
// run, and on any failure writes a reproducer (the remaining pipeline + the failing
// pass's input IR) whose path it reports. Normative description: specs/pipeline.md.
import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { ErrorCode } from '../errors.ts';
import { SsmcError } from '../errors.ts';
import type { Graph } from '../ir/graph.ts';
import { makeGraph } from '../ir/graph.ts';
import { printGraph } from '../ir/text/index.ts';
import { formatDiagnostic, verify } from '../ir/verifier.ts';
import type { ProgressSink } from './pass.ts';
import { AnalysisCache, PassRunContext, didYouMean } from './pass.ts';
import type { ResolvedStep } from './pipeline.ts';
import { printPipeline, resolvePipeline } from './pipeline.ts';

export interface PassManagerOptions {
  /** Verify the input and the graph after every pass (default true). */
  readonly verify?: boolean;
  /** Hand the IR text to `onIr` after these passes (by name), or after every pass. */
  readonly printIrAfter?: 'all' | readonly string[];
  /** Called with the printed IR after the passes chosen by `printIrAfter`. */
  readonly onIr?: (passName: string, irText: string) => void;
  /** Called after each pass with its wall time in milliseconds. */
  readonly onPassEnd?: (passName: string, ms: number) => void;
  /** Where reproducers go (default `os.tmpdir()`); `false` writes none. */
  readonly reproducerDir?: string | false;
  /** Services every run offers to its passes (a run's own services override them). */
  readonly services?: Readonly<Record<string, unknown>>;
  /** Progress of long stages inside passes (calibration, sweeps); see PassContext.progress. */
  readonly onProgress?: ProgressSink;
}

export interface RunContext {
  /** Services for this run (a target cost model, calibration data, a fast runner). */
  readonly services?: Readonly<Record<string, unknown>>;
  /** An analysis cache to use (and fill) instead of a fresh one per run. */
  readonly cache?: AnalysisCache;
}

export interface PassTiming {
  readonly pass: string;
  readonly ms: number;
}

export interface PipelineResult {
  readonly graph: Graph;
  readonly timings: PassTiming[];
}

/** A failure inside a pipeline: E_PASS (the pass threw) or E_VERIFY (it broke the IR). */
export class PassError extends SsmcError {
  /** Name of the failing pass. */
  readonly pass: string;
  /** 0-based position of the failing step in the pipeline. */
  readonly step: number;
  /** The pipeline from the failing pass on (canonical text). */
  readonly pipeline: string;
  /** Path of the reproducer file, when one was written. */
  readonly reproducer?: string;

  constructor(code: ErrorCode, message: string, info: { pass: string; step: number; pipeline: string; reproducer?: string }, cause?: unknown) {
    super(code, message, undefined, cause === undefined ? undefined : { cause });
    this.name = 'PassError';
    this.pass = info.pass;
    this.step = info.step;
    this.pipeline = info.pipeline;
    if (info.reproducer !== undefined) this.reproducer = info.reproducer;
  }
}

export class PassManager {
  /** The canonical text of the pipeline this manager runs. */
  readonly pipeline: string;
  readonly steps: readonly ResolvedStep[];
  readonly #opts: PassManagerOptions;
  readonly #printAfter: ReadonlySet<string> | 'all';

  /** Parses and resolves `pipeline` (E_PIPELINE on any problem, before anything runs). */
  constructor(pipeline: string, options: PassManagerOptions = {}) {
    this.steps = resolvePipeline(pipeline);
    this.pipeline = printPipeline(this.steps.map((s) => s.step));
    this.#opts = options;
    const pa = options.printIrAfter;
    if (pa === undefined || pa === 'all') this.#printAfter = pa ?? new Set();
    else {
      const names = this.steps.map((s) => s.pass.name);
      for (const n of pa) {
        if (!names.includes(n)) {
          const hint = didYouMean(n, names);
          throw new SsmcError(
            'E_PIPELINE',
            `print-ir-after: pass '${n}' is not in the pipeline${hint ? ` (did you mean '${hint}'?)` : ''}; its passes: ${names.length ? [...new Set(names)].join(', ') : '(none)'}`,
          );
        }
      }
      this.#printAfter = new Set(pa);
    }
    if (pa !== undefined && (pa === 'all' || pa.length > 0) && !options.onIr) {
      throw new SsmcError('E_ARG', 'printIrAfter needs an onIr callback (the library does not print)');
    }
  }

  /** Names of the passes in order. */
  get passes(): string[] {
    return this.steps.map((s) => s.pass.name);
  }

  run(graph: Graph, ctx: RunContext = {}): PipelineResult {
    const doVerify = this.#opts.verify ?? true;
    // A graph from IR text carries types only: structural passes run on it, and a pass
    // that reads weight values fails naming the weight (E_MISSING_TENSOR).
    const vopts = { requireWeightData: graph.weights.every((w) => graph.weightData.tryGet(w.name) !== undefined) };
    if (doVerify) {
      const diags = verify(graph, vopts);
      if (diags.length) {
        throw new SsmcError('E_VERIFY', `the input of the pipeline (graph @${graph.name}) is invalid:\n${diags.map((d) => formatDiagnostic(d)).join('\n')}`);
      }
    }
    // The run's input is the default `teacher` (the model before the pipeline) for passes
    // that pull a transformed model back toward it (sparse-finetune); callers may override.
    const services = { teacher: { graph }, ...(this.#opts.services ?? {}), ...(ctx.services ?? {}) };
    const cache = ctx.cache ?? new AnalysisCache();
    const timings: PassTiming[] = [];
    let current = graph;
    for (let i = 0; i < this.steps.length; i++) {
      const { pass, options } = this.steps[i];
      const input = current;
      const pctx = new PassRunContext(pass.name, input, { services, cache, onProgress: this.#opts.onProgress });
      let out: Graph;
      const t0 = performance.now();
      try {
        out = pass.run(input, options, pctx);
      } catch (e) {
        const what = e instanceof SsmcError ? `[${e.code}] ${e.message}` : e instanceof Error ? e.message : String(e);
        throw this.#failure(i, input, 'E_PASS', `pass '${pass.name}' failed: ${what}`, e);
      }
      const ms = performance.now() - t0;
      if (!isGraphLike(out)) {
        throw this.#failure(i, input, 'E_PASS', `pass '${pass.name}' returned ${out === null ? 'null' : typeof out} instead of a graph`);
      }
      if (!Object.isFrozen(out)) out = makeGraph(out);
      timings.push({ pass: pass.name, ms });
      this.#opts.onPassEnd?.(pass.name, ms);
      if (doVerify) {
        let diags;
        try {
          diags = verify(out, vopts);
        } catch (e) {
          throw this.#failure(i, input, 'E_VERIFY', `the graph after pass '${pass.name}' could not be verified: ${e instanceof Error ? e.message : String(e)}`, e);
        }
        if (diags.length) {
          throw this.#failure(i, input, 'E_VERIFY', `pass '${pass.name}' produced an invalid graph:\n${diags.map((d) => formatDiagnostic(d)).join('\n')}`);
        }
      }
      if (out !== input) cache.invalidateExcept(pctx.preserved(pass));
      if (this.#printAfter === 'all' || this.#printAfter.has(pass.name)) this.#opts.onIr?.(pass.name, printGraph(out));
      current = out;
    }
    return { graph: current, timings };
  }

  #failure(step: number, input: Graph, code: ErrorCode, message: string, cause?: unknown): PassError {
    const pass = this.steps[step].pass.name;
    const pipeline = printPipeline(this.steps.slice(step).map((s) => s.step));
    let reproducer: string | undefined;
    let note = '';
    const dir = this.#opts.reproducerDir ?? tmpdir();
    if (dir !== false) {
      try {
        reproducer = writeReproducer(dir, pass, pipeline, input, `error[${code}]: ${message}`);
        note = `\nreproducer: ${reproducer}`;
      } catch (e) {
        note = `\n(could not write a reproducer: ${e instanceof Error ? e.message : String(e)})`;
      }
    }
    return new PassError(code, message + note, { pass, step, pipeline, reproducer }, cause);
  }
}

function isGraphLike(g: unknown): g is Graph {
  if (typeof g !== 'object' || g === null) return false;
  const r = g as Record<string, unknown>;
  return Array.isArray(r.nodes) && Array.isArray(r.inputs) && Array.isArray(r.outputs) && Array.isArray(r.weights) && typeof r.weightData === 'object';
}

/** The text of a reproducer: the pipeline line, the error as comments, then the IR. */
export function formatReproducer(pipeline: string, input: Graph, error?: string): string {
  const lines = [`// pipeline: ${pipeline}`];
  if (error) for (const l of error.split('\n')) lines.push(`// ${l}`);
  let ir: string;
  try {
    ir = printGraph(input);
  } catch (e) {
    ir = `// (the input graph could not be printed: ${e instanceof Error ? e.message : String(e)})\n`;
  }
  return `${lines.join('\n')}\n${ir}${ir.endsWith('\n') ? '' : '\n'}`;
}

/** Splits a reproducer into its pipeline and IR text (the IR keeps the comment lines). */
export function parseReproducer(text: string): { pipeline: string; ir: string } {
  const nl = text.indexOf('\n');
  const first = nl < 0 ? text : text.slice(0, nl);
  const m = /^\/\/ pipeline: ?(.*)$/.exec(first.replace(/\r$/, ''));
  if (!m) throw new SsmcError('E_SYNTAX', `a reproducer starts with '// pipeline: ...', found '${first.slice(0, 60)}'`, { line: 1, column: 1 });
  return { pipeline: m[1], ir: nl < 0 ? '' : text.slice(nl + 1) };
}

/** Writes `ssmc-reproducer-<pass>-<timestamp>.ir` into `dir`; returns its path. */
export function writeReproducer(dir: string, pass: string, pipeline: string, input: Graph, error?: string): string {
  mkdirSync(dir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace('.', '');
  const text = formatReproducer(pipeline, input, error);
  for (let k = 0; ; k++) {
    const path = join(dir, `ssmc-reproducer-${pass}-${stamp}${k ? `-${k}` : ''}.ir`);
    try {
      writeFileSync(path, text, { flag: 'wx' });
      return path;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || k > 1000) throw e;
    }
  }
}
