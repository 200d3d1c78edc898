import type { Command } from 'commander';
import { SsmcError } from '../../errors.ts';
import type { Arch } from '../../backends/c/toolchain.ts';
import { compileC } from '../../backends/c/compile.ts';
import { ToolchainError, defaultCompiler } from '../../backends/c/toolchain.ts';
import { buildMambaGraph } from '../../frontend/mamba-graph.ts';
import type { CliIO } from '../io.ts';
import { choiceArg, intArg } from '../io.ts';
import { loadModel } from '../model.ts';
import type { PipelineFlags } from '../pipeline-flags.ts';
import { addPipelineFlags, applyPipelineFlags } from '../pipeline-flags.ts';
import { PassManager } from '../../passes/index.ts';

/** The cast-weights step `--dtype` stands for (f16: the matrices; f32: every float weight). */
export function dtypePipeline(dtype: 'f32' | 'f16'): string {
  return dtype === 'f16' ? 'cast-weights{dtype=f16 which=matrices}' : 'cast-weights{dtype=f32 which=all}';
}

interface CompileOpts extends PipelineFlags {
  target: 'c';
  arch: Arch;
  dtype: 'f32' | 'f16';
  threads: number;
  chunk: number;
  build: boolean;
  output: string;
}

export function registerCompile(program: Command, io: CliIO): Command {
  const cmd = program
    .command('compile')
    .description('compile a model to a self-contained C folder (kernels, runtime, driver, weights.bin, Makefile, CMakeLists.txt) and build it')
    .argument('<model>', 'HF folder, .safetensors file or .gguf file')
    .requiredOption('--target <target>', 'code generator (c)', choiceArg(['c'] as const))
    .option('--arch <arch>', 'host, or aarch64 (cross build with $CROSS_CC, default aarch64-linux-gnu-gcc)', choiceArg(['host', 'aarch64'] as const), 'host')
    .option('--dtype <dtype>', 'storage dtype of the linear and embedding weights (the cast-weights pass, run after the pipeline)', choiceArg(['f32', 'f16'] as const), 'f32')
    .option('--threads <n>', 'default thread count of the runtime', intArg(1, 256), 1)
    .option('--chunk <n>', 'tokens per prefill kernel call', intArg(1, 4096), 64)
    .option('--no-build', 'write the folder only')
    .requiredOption('-o, --output <dir>', 'output folder');
  return addPipelineFlags(cmd).action((model: string, o: CompileOpts) => {
      const ck = loadModel(model);
      let graph = buildMambaGraph(ck, { mode: 'decode' });
      graph = applyPipelineFlags(graph, o, io);
      // The storage dtype is decided in the IR, after the pipeline (pruning works in f32).
      graph = new PassManager(dtypePipeline(o.dtype)).run(graph).graph;
      const t0 = Date.now();
      try {
        const r = compileC(graph, o.output, { threads: o.threads, chunk: o.chunk, build: o.build ? { arch: o.arch } : false });
        const m = r.manifest;
        io.out(`wrote ${o.output} (${m.graph}: vocab ${m.vocab}, ${(m.weightsBytes / 2 ** 20).toFixed(1)} MiB weights, ${m.decodeWeightBytes} weight bytes per token)\n`);
        if (r.driver) io.out(`built ${r.driver} for ${o.arch} in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
      } catch (e) {
        if (e instanceof ToolchainError && e.kind === 'missing') {
          throw new SsmcError('E_UNSUPPORTED', `${e.message}; the sources are in ${o.output} (build them with 'make${o.arch === 'aarch64' ? ' ARCH=aarch64' : ''}', or pass --no-build). Compiler looked for: ${defaultCompiler(o.arch)}`);
        }
        throw e;
      }
    });
}
