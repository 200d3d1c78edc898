// `ssmc prune`: run a sparsification pipeline and write the pruned model as a
// checkpoint (same tensor names, pruned weights zero, config unchanged) with a
// per-layer `sparsity.json` and its chart `sparsity.svg` (NAME.sparsity.json/.svg beside
// a .gguf). Everything is rendered before anything is written, and a failure part-way
// removes what this run wrote.
import type { Command } from 'commander';
import { existsSync, rmSync } from 'node:fs';
import { SsmcError } from '../../errors.ts';
import type { Checkpoint } from '../../frontend/checkpoint.ts';
import { expectedTensors } from '../../frontend/checkpoint.ts';
import { writeGgufMamba } from '../../frontend/gguf-mamba.ts';
import { writeHfFolder } from '../../frontend/hf-export.ts';
import { buildMambaGraph } from '../../frontend/mamba-graph.ts';
import type { RawTensor } from '../../frontend/raw-tensor.ts';
import type { Graph } from '../../ir/graph.ts';
import { shapeEqual } from '../../ir/types.ts';
import { writeFileAtomic } from '../../util/atomic-write.ts';
import { sparsityChartSvg } from '../../viz/sparsity-chart.ts';
import type { SparsityReport } from '../../passes/sparsity/report.ts';
import { SPARSITY_REPORT_SERVICE } from '../../passes/sparsity/report.ts';
import type { CliIO } from '../io.ts';
import { choiceArg, printJson } from '../io.ts';
import { loadModel } from '../model.ts';
import type { PipelineFlags } from '../pipeline-flags.ts';
import { addPipelineFlags, applyPipelineFlags, pipelineFromFlags } from '../pipeline-flags.ts';

type Opts = PipelineFlags & { output: string; format: 'safetensors' | 'gguf'; force?: boolean; json?: boolean };

export function registerPrune(program: Command, io: CliIO): Command {
  const cmd = program
    .command('prune')
    .description('prune a model with C_n^4 sparsity and write it as a checkpoint plus sparsity.json and a chart, sparsity.svg')
    .argument('<model>', 'HF folder, .safetensors file or .gguf file')
    .requiredOption('-o, --output <path>', 'output folder (safetensors) or file (gguf)')
    .option('--format <f>', 'safetensors (an HF folder with sparsity.json and sparsity.svg) or gguf (a llama.cpp file; NAME.sparsity.json and NAME.sparsity.svg beside it)', choiceArg(['safetensors', 'gguf'] as const), 'safetensors')
    .option('--force', 'replace an existing output')
    .option('--json', 'print the sparsity report as JSON');
  return addPipelineFlags(cmd).action((model: string, o: Opts) => {
    if (pipelineFromFlags(o) === undefined) throw new SsmcError('E_ARG', 'nothing to prune: give --sparsity, --n, --latency or --pipeline');
    const ck = loadModel(model);
    let report: SparsityReport | undefined;
    const graph = applyPipelineFlags(buildMambaGraph(ck, { mode: 'decode' }), o, io, { [SPARSITY_REPORT_SERVICE]: (r: SparsityReport) => (report = r) });
    const pruned = checkpointFromGraph(ck, graph);
    const reportJson = `${JSON.stringify(report ?? null, null, 2)}\n`;
    // No chart without a report (a pipeline with no sparsify-cn4 prunes nothing).
    const chart = report ? sparsityChartSvg(report, { title: `C_n^4 sparsity per layer: ${ck.config.nLayer} layers, d_model ${ck.config.dModel}` }) : undefined;
    if (o.format === 'safetensors') {
      writeHfFolder(pruned, o.output, { overwrite: o.force, extraFiles: { 'sparsity.json': reportJson, ...(chart ? { 'sparsity.svg': chart } : {}) } });
    } else {
      if (existsSync(o.output) && !o.force) throw new SsmcError('E_IO', 'exists (use --force to replace it)', { file: o.output });
      writeGgufMamba(pruned, o.output, { fileType: pruned.tensors.get('l0.in_proj')?.dtype === 'f16' ? 'f16' : 'f32' });
      const sidecars: Array<[string, string]> = [[sidecarPath(o.output), reportJson], ...(chart ? [[chartPath(o.output), chart] as [string, string]] : [])];
      const written: string[] = [o.output];
      try {
        for (const [path, data] of sidecars) {
          writeFileAtomic(path, data);
          written.push(path);
        }
      } catch (e) {
        for (const path of written) rmSync(path, { force: true });
        throw e;
      }
    }
    if (o.json) return printJson(io, report ?? null);
    if (report) {
      io.out(`pruned ${report.layers.length} matrices to ${(100 * report.sparsity).toFixed(2)}% sparsity (${report.method}, ${report.pattern}, ${report.target})\n`);
      for (const l of report.layers) {
        const err = l.error ? `  recon. error ${(l.error.before / l.error.energy).toExponential(2)} -> ${(l.error.after / l.error.energy).toExponential(2)}` : '';
        io.out(`  ${l.weight.padEnd(14)} ${String(l.rows).padStart(6)} rows  n=0..4 [${l.nHistogram.join(' ')}]  ${(100 * l.sparsity).toFixed(1).padStart(5)}%${err}\n`);
      }
    }
    io.out(`wrote ${o.output}${chart ? ` and the chart ${o.format === 'safetensors' ? `${o.output}/sparsity.svg` : chartPath(o.output)}` : ''}\n`);
  });
}

/** `model.gguf` -> `model.sparsity.json`. */
export function sidecarPath(gguf: string): string {
  return `${gguf.replace(/\.gguf$/i, '')}.sparsity.json`;
}

/** `model.gguf` -> `model.sparsity.svg`. */
export function chartPath(gguf: string): string {
  return `${gguf.replace(/\.gguf$/i, '')}.sparsity.svg`;
}

/**
 * The checkpoint a pipeline's graph stands for: its weights under the checkpoint's own
 * names. Only pipelines that change weight values (not names, shapes or row order)
 * can be written back as a checkpoint.
 */
export function checkpointFromGraph(ck: Checkpoint, graph: Graph): Checkpoint {
  const decls = new Map(graph.weights.map((w) => [w.name, w]));
  const tensors = new Map<string, RawTensor>();
  for (const [name, shape] of expectedTensors(ck.config)) {
    const w = decls.get(name);
    if (!w || !shapeEqual(w.type.shape, shape)) throw new SsmcError('E_UNSUPPORTED', `the pipeline changed weight @${name}'s name or shape; only value-changing pipelines can be written as a checkpoint (use ssmc compile for the rest)`);
    if (w.type.perm) throw new SsmcError('E_UNSUPPORTED', `the pipeline reordered the rows of @${name}; a checkpoint keeps the original order (drop reorder-weights, or use ssmc compile)`);
    if (w.type.dtype === 'i32') throw new SsmcError('E_UNSUPPORTED', `weight @${name} became i32`);
    tensors.set(name, { dtype: w.type.dtype, shape, data: graph.weightData.get(name) as Float32Array | Uint16Array });
  }
  return { ...ck, tensors };
}
