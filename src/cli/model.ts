// Resolving the MODEL argument of commands into a checkpoint or a parsed IR graph.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { SsmcError } from '../errors.ts';
import type { Checkpoint } from '../frontend/checkpoint.ts';
import { loadCheckpoint } from '../frontend/load.ts';
import type { Graph } from '../ir/graph.ts';
import { parseGraph } from '../ir/text/index.ts';
import { InterpRunner } from '../backends/interp/runner.ts';
import { compileCached } from '../backends/c/compile.ts';
import { CRunner } from '../backends/c/runner.ts';
import { compileOpenCLCached } from '../backends/opencl/compile.ts';
import { OpenCLRunner } from '../backends/opencl/runner.ts';
import { buildMambaGraph } from '../frontend/mamba-graph.ts';
import type { ModelRunner } from '../runtime/runner.ts';
import type { CliIO } from './io.ts';
import type { PipelineFlags } from './pipeline-flags.ts';
import { applyPipelineFlags } from './pipeline-flags.ts';

export const IR_EXTENSIONS = ['.ir', '.ssmc'];

export function isIrFile(path: string): boolean {
  return IR_EXTENSIONS.some((e) => path.endsWith(e)) && existsSync(path) && statSync(path).isFile();
}

export function readIrFile(path: string): Graph {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new SsmcError('E_IO', `cannot read: ${(e as Error).message}`, { file: path });
  }
  return parseGraph(text, { file: path }).graph;
}

export function loadModel(path: string): Checkpoint {
  if (isIrFile(path)) throw new SsmcError('E_UNSUPPORTED', 'an IR text file carries no weights; pass a model folder, .safetensors or .gguf file', { file: path });
  return loadCheckpoint(path);
}

export type BackendName = 'interp' | 'c' | 'opencl';
export const BACKENDS: readonly BackendName[] = ['interp', 'c', 'opencl'];

export interface RunnerOptions {
  /** Threads of a native backend (default: its own default). */
  readonly threads?: number;
}

/** A runner for a decode graph (as imported, or as a pipeline left it). */
export function makeRunner(decode: Graph, backend: BackendName, opts: RunnerOptions = {}): ModelRunner {
  switch (backend) {
    case 'interp':
      return new InterpRunner(decode);
    case 'c': {
      // Compiled once per distinct graph into the cache (content-hashed), then reused.
      const { dir } = compileCached(decode, { dtype: 'f32' });
      return new CRunner(dir, { threads: opts.threads });
    }
    case 'opencl': {
      // Same cache; memory kinds are whatever the pipeline wrote into the IR (buffer when absent).
      const { dir } = compileOpenCLCached(decode, { dtype: 'f32' });
      return new OpenCLRunner(dir);
    }
  }
}

/** The decode graph of a model with the pipeline the flags ask for applied (adaptive shorthands reorder rows by n). */
export function decodeGraph(ck: Checkpoint, flags: PipelineFlags, io: CliIO): Graph {
  return applyPipelineFlags(buildMambaGraph(ck, { mode: 'decode' }), flags, io, {}, { reorder: true });
}
