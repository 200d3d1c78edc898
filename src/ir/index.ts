// Public surface of the IR.
export * from './types.ts';
export * from './graph.ts';
export * from './weights.ts';
export * from './tensor.ts';
export * from './op-registry.ts';
export * from './verifier.ts';
export * from './builder.ts';
export * from './interpreter.ts';
export * from './ops/index.ts';
export * from './graph-equal.ts';
export * from './text/index.ts';
export * from './sequence.ts';
