// Public surface of the passes: the pass API (definePass, registerPass, options,
// PassContext), pipelines, the manager, rewrite helpers and the built-in passes
// (registered on import, by builtins.ts, through the same public registerPass).
export * from './pass.ts';
export * from './pipeline.ts';
export * from './manager.ts';
export * from './rewrite-utils.ts';
export * from './builtins.ts';
