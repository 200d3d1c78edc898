// Registers the built-in ops. Importing this module is enough; user ops call defineOp.
export * from './nn-embedding.ts';
export * from './nn-linear.ts';
export * from './nn-rms-norm.ts';
export * from './ew.ts';
export * from './tensor-split.ts';
export * from './ssm-conv1d.ts';
export * from './ssm-scan.ts';
export * from './fused-group.ts';
export * from './tensor-gather.ts';
export * from './mem-convert.ts';
