// Reverse-mode differentiation over the IR (VJP rules live in each op's file).
export * from './grad.ts';
export * from './kl.ts';
export * from './adam.ts';
export * from './distill.ts';
