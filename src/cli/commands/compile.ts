import type { Command } from 'commander';
import { basename, join } from 'node:path';
import { SsmcError } from '../../errors.ts';
import type { Arch } from '../../backends/c/toolchain.ts';
import { compileC } from '../../backends/c/compile.ts';
import { ToolchainError, buildDriver, defaultCompiler } from '../../backends/c/toolchain.ts';
import { compileOpenCL } from '../../backends/opencl/compile.ts';
import { buildOpenCLDriver } from '../../backends/opencl/toolchain.ts';
import type { OpenCLDevice } from '../../backends/opencl/layout.ts';
import { OPENCL_DEVICES, openclPipeline } from '../../backends/opencl/layout.ts';
import { buildMambaGraph } from '../../frontend/mamba-graph.ts';
import type { CliIO } from '../io.ts';
import { writeFolderAtomic } from '../../util/atomic-write.ts';
import { choiceArg, intArg } from '../io.ts';
import { stepBar } from '../progress.ts';
import { loadModel } from '../model.ts';
import type { PipelineFlags } from '../pipeline-flags.ts';
import { addPipelineFlags, applyPipelineFlags, noteInterleavedCn4 } from '../pipeline-flags.ts';
import { PassManager } from '../../passes/index.ts';

/** The cast-weights step `--dtype` stands for (f16: the matrices; f32: every float weight). */
export function dtypePipeline(dtype: 'f32' | 'f16'): string {
  return dtype === 'f16' ? 'cast-weights{dtype=f16 which=matrices}' : 'cast-weights{dtype=f32 which=all}';
}

interface CompileOpts extends PipelineFlags {
  target: 'c' | 'opencl';
  device: OpenCLDevice;
  arch: Arch;
  dtype: 'f32' | 'f16';
  threads: number;
  chunk: number;
  build: boolean;
  output: string;
  json?: boolean;
}

export function registerCompile(program: Command, io: CliIO): Command {
  const cmd = program
    .command('compile')
    .description('compile a model to a self-contained C folder (kernels, runtime, driver, weights.bin, Makefile, CMakeLists.txt) and build it')
    .argument('<model>', 'HF folder, .safetensors file or .gguf file')
    .requiredOption('--target <target>', 'code generator (c, or opencl)', choiceArg(['c', 'opencl'] as const))
    .option('--device <device>', 'opencl: GPU family whose costs choose buffer or image memory per tensor', choiceArg(OPENCL_DEVICES), 'generic')
    .option('--arch <arch>', 'host, or aarch64 (cross build with $CROSS_CC, default aarch64-linux-gnu-gcc)', choiceArg(['host', 'aarch64'] as const), 'host')
    .option('--dtype <dtype>', 'storage dtype of the linear and embedding weights (the cast-weights pass, run after the pipeline)', choiceArg(['f32', 'f16'] as const), 'f32')
    .option('--threads <n>', 'default thread count of the runtime', intArg(1, 256), 1)
    .option('--chunk <n>', 'tokens per prefill kernel call', intArg(1, 4096), 64)
    .option('--no-build', 'write the folder only')
    .requiredOption('-o, --output <dir>', 'output folder');
  return addPipelineFlags(cmd).action((model: string, o: CompileOpts) => {
    const ck = loadModel(model);
    let graph = buildMambaGraph(ck, { mode: 'decode' });
    graph = applyPipelineFlags(graph, o, io, {}, { reorder: true }); // draws its own bar over the passes
    // Steps after the pipeline: cast, (layout), emit + write, (C compiler).
    noteInterleavedCn4(graph, io);
    const steps = stepBar(io, 'compile', 2 + (o.target === 'opencl' ? 1 : 0) + (o.build ? 1 : 0), o.json);
    try {
      steps.next(`cast-weights (${o.dtype})`);
      // The storage dtype is decided in the IR, after the pipeline (pruning works in f32).
      graph = new PassManager(dtypePipeline(o.dtype)).run(graph).graph;
      const t0 = Date.now();
      if (o.target === 'opencl') {
        const p = openclPipeline(o.device);
        steps.next(`layout for ${o.device}`);
        graph = new PassManager(p.pipeline).run(graph).graph;
        if (!p.layout) io.out(`select-layout / materialize-layout are not available: compiled with every tensor in buffers (memory kinds the graph already carries are kept)\n`);
        // Written beside the output and renamed into place once built: a failed build leaves nothing.
        const r = writeFolderAtomic(o.output, (dir) => {
          steps.next('emitting OpenCL kernels and host code');
          const emitted = compileOpenCL(graph, dir, { chunk: Math.min(o.chunk, 64), build: false });
          if (!o.build) return emitted;
          steps.next('running the C compiler (host runtime + driver)');
          return { ...emitted, driver: buildOpenCLDriver(dir) };
        });
        steps.done();
        const m = r.manifest;
        io.out(`wrote ${o.output} (${m.graph} for OpenCL, ${o.device}: vocab ${m.vocab}, ${m.decodeLaunches} kernel launches and ${m.decodeConversions} conversions per token, ${m.imageWeights.length} weights in images)\n`);
        if (r.driver) io.out(`built ${join(o.output, basename(r.driver))} in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
        return;
      }
      const r = writeFolderAtomic(o.output, (dir) => {
        steps.next('emitting C kernels, runtime and weights');
        const emitted = compileC(graph, dir, { threads: o.threads, chunk: o.chunk, build: false });
        if (!o.build) return emitted;
        steps.next(`running the C compiler (${o.arch})`);
        return { ...emitted, driver: buildC(dir, o) };
      });
      steps.done();
      const m = r.manifest;
      io.out(`wrote ${o.output} (${m.graph}: vocab ${m.vocab}, ${(m.weightsBytes / 2 ** 20).toFixed(1)} MiB weights, ${m.decodeWeightBytes} weight bytes per token)\n`);
      if (r.driver) io.out(`built ${join(o.output, basename(r.driver))} for ${o.arch} in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
    } finally {
      steps.done();
    }
  });
}

function buildC(dir: string, o: CompileOpts): string {
  try {
    return buildDriver(dir, { arch: o.arch });
  } catch (e) {
    if (e instanceof ToolchainError && e.kind === 'missing') {
      throw new SsmcError('E_UNSUPPORTED', `${e.message}; nothing was written to ${o.output}. With --no-build the sources are in ${o.output} unbuilt (build them there with 'make${o.arch === 'aarch64' ? ' ARCH=aarch64' : ''}'). Compiler looked for: ${defaultCompiler(o.arch)}`);
    }
    throw e;
  }
}
