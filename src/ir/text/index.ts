// The IR text format: grammar, parser and canonical printer (spec: specs/ir-text.md).
// graphEqual is re-exported here because round-trip checks are its main use.
export * from './grammar.ts';
export * from './parser.ts';
export * from './printer.ts';
export * from '../graph-equal.ts';
