// `ssmc/testing`: the generators the project's own property tests use, for users'
// property tests of their own passes and ops.
export * from './arbitraries.ts';
export * from './region.ts';
export * from './check-pass.ts';
