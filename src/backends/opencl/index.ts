// The OpenCL backend: emit (kernels, host tables, runtime), compile + cache, runner.
export { emitOpenCL, TEMPLATE_DIR } from './emit.ts';
export type { OpenCLEmitOptions, OpenCLManifest, OpenCLModule } from './emit.ts';
export { compileOpenCL, compileOpenCLCached, readOpenCLManifest, writeOpenCLModule } from './compile.ts';
export type { OpenCLCompileOptions, OpenCLCompileResult } from './compile.ts';
export { buildOpenCLDriver } from './toolchain.ts';
export type { OpenCLBuildOptions } from './toolchain.ts';
export { OpenCLRunner } from './runner.ts';
export type { OpenCLRunnerOptions } from './runner.ts';
export { ServeRunner } from '../serve-runner.ts';
export type { ServeModel, ServeOptions } from '../serve-runner.ts';
export { OpenCLUnavailableError, classifyOpenCLFailure } from './errors.ts';
export type { OpenCLMissing } from './errors.ts';
