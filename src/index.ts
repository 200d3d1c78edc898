// The ssmc library: the IR, the frontends, the passes and the runners.
export * from './errors.ts';
export * from './ir/index.ts';
export * from './passes/index.ts';
export type { Checkpoint, MambaConfig, CheckpointFormat, TokenizerSource } from './frontend/checkpoint.ts';
export { expectedTensors, parameterCount } from './frontend/checkpoint.ts';
export { loadCheckpoint, detectFormat } from './frontend/load.ts';
export { buildMambaGraph, io as mambaIO } from './frontend/mamba-graph.ts';
export type { GraphMode, MambaGraphOptions } from './frontend/mamba-graph.ts';
export { synthCheckpoint, writeSynthModel, SHAPES } from './frontend/synth.ts';
export { writeHfFolder } from './frontend/hf-export.ts';
export { writeGgufMamba, loadGgufMamba } from './frontend/gguf-mamba.ts';
export { loadHfFolder } from './frontend/hf-import.ts';
export type { ModelRunner, StateSnapshot } from './runtime/runner.ts';
export { InterpRunner } from './backends/interp/runner.ts';
export { evaluateTokens } from './eval/perplexity.ts';
export type { EvalResult } from './eval/perplexity.ts';
export { generate } from './runtime/generate.ts';
export * from './viz/index.ts';
