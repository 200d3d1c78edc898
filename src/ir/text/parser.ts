// Parses IR text (specs/ir-text.md) into a verified graph. Two steps: the ohm
// semantics turns the match into a small syntax tree with source offsets, then
// `buildGraph` resolves operands, builds frozen IR objects and records their positions
// so the verifier can point at the line of an offending node.
import type { Node as OhmNode } from 'ohm-js';
import { SsmcError } from '../../errors.ts';
import type { Attr, Attrs, Graph, Node, Region, Value } from '../graph.ts';
import { makeGraph } from '../graph.ts';
import type { DType, MemoryKind, TensorType } from '../types.ts';
import type { SourcePos, SourceSpans } from '../verifier.ts';
import { assertValid } from '../verifier.ts';
import { WeightStore } from '../weights.ts';
import { irGrammar } from './grammar.ts';
import '../ops/index.ts';

export interface ParseOptions {
  /** File name for error locations. */
  readonly file?: string;
  /** Weight data; when given, the verifier also checks every weight has data. */
  readonly weights?: WeightStore;
  /** Run the verifier on the result (default true). */
  readonly verify?: boolean;
}

export interface ParseResult {
  readonly graph: Graph;
  /** Positions of the parsed graph, nodes, regions and declared values. */
  readonly spans: SourceSpans;
}

export function parseGraph(text: string, opts: ParseOptions = {}): ParseResult {
  const positions = lineIndex(text);
  const fail = (at: number, message: string): never => {
    const { line, column } = positions(at);
    throw new SsmcError('E_SYNTAX', message, { file: opts.file, line, column });
  };
  checkNesting(text, fail);
  const match = irGrammar.match(text);
  if (match.failed()) {
    const at = match.getRightmostFailurePosition();
    return fail(at, `expected ${match.getExpectedText()}, found ${describeAt(text, at)}`);
  }
  let ast: GraphAst;
  annotationBudget = MAX_ANNOTATION_ROWS;
  try {
    ast = semantics(match).ast();
  } catch (e) {
    if (e instanceof TextError) return fail(e.at, e.message);
    throw e;
  }
  const { graph, spans } = buildGraph(ast, opts.weights ?? new WeightStore(), positions, fail);
  if (opts.verify ?? true) assertValid(graph, { spans, requireWeightData: opts.weights !== undefined, file: opts.file });
  return { graph, spans };
}

// --- syntax tree ---------------------------------------------------------------------

interface Operand { readonly weight: boolean; readonly name: string; readonly at: number }
interface Decl { readonly name: string; readonly type: TensorType; readonly at: number }
interface Stmt {
  readonly results: readonly Operand[];
  readonly op: string;
  readonly operands: readonly Operand[];
  readonly attrs: Attrs;
  readonly types: readonly TensorType[];
  readonly body?: Body;
  readonly at: number;
}
interface Body { readonly params: readonly Decl[]; readonly nodes: readonly Stmt[]; readonly yields: Operands }
interface Operands { readonly list: readonly Operand[]; readonly at: number }
/** `count` values `first, first + step, ...` (cn4: `n x count`, step 0; perm: `a..b`, step 1). */
interface Run { readonly first: number; readonly count: number; readonly step: number; readonly at: number }
type Annotation =
  | { readonly key: 'memory'; readonly kind: MemoryKind; readonly at: number }
  | { readonly key: 'cn4' | 'perm'; readonly runs: readonly Run[]; readonly at: number };
interface GraphAst {
  readonly name: string;
  readonly attrs: Attrs;
  readonly inputs: readonly Decl[];
  readonly weights: readonly Decl[];
  readonly nodes: readonly Stmt[];
  readonly returns: Operands;
}

/** A problem found while building the tree; becomes a located E_SYNTAX. */
class TextError extends Error {
  constructor(readonly at: number, message: string) {
    super(message);
  }
}

/** Annotation lists may not expand beyond this many rows past the tensor's own. */
const MAX_SPARE_ROWS = 1 << 16;
/**
 * Rows all the annotations of one text may expand to together. Runs are compact
 * (`2x99999999` is 10 characters) and a shape's first dim is just a number, so neither
 * bounds the expansion: a huge shape let one annotation expand to 10^8 entries (~1 GB,
 * 12 s). 2^22 covers every cn4/perm row of the largest Mamba-1 (2.8b: ~1.4M rows).
 */
export const MAX_ANNOTATION_ROWS = 1 << 22;
/** Rows still allowed in the text being parsed (parsing is synchronous: reset per parse). */
let annotationBudget = MAX_ANNOTATION_ROWS;

const each = (iter: OhmNode): any[] => iter.children.map((c: OhmNode) => c.ast());
const list = (n: OhmNode): any[] => each(n.asIteration());
const opt = (n: OhmNode): any => (n.numChildren ? n.children[0].ast() : undefined);
const decl = (at: OhmNode, name: OhmNode, type: OhmNode): Decl => ({ name: name.ast().name, type: type.ast(), at: at.source.startIdx });

const semantics = irGrammar.createSemantics().addOperation('ast', {
  Graph(kw, name, attrs, _o, inputs, weights, stmts, ret, _c) {
    return {
      name: name.ast().name,
      attrs: opt(attrs) ?? {},
      inputs: each(inputs),
      weights: each(weights),
      nodes: each(stmts),
      returns: ret.ast(),
    } satisfies GraphAst;
  },
  Input: (kw, name, _c, type) => decl(kw, name, type),
  Weight: (kw, name, _c, type) => decl(kw, name, type),
  Param: (kw, name, _c, type) => decl(kw, name, type),
  Return: (kw, ops) => ({ list: list(ops), at: kw.source.startIdx }) satisfies Operands,
  Yield: (kw, ops) => ({ list: list(ops), at: kw.source.startIdx }) satisfies Operands,
  Stmt(results, op, _o, operands, _c, attrs, types, body) {
    return {
      results: opt(results) ?? [],
      op: op.sourceString,
      operands: list(operands),
      attrs: opt(attrs) ?? {},
      types: opt(types) ?? [],
      body: opt(body),
      at: this.source.startIdx,
    } satisfies Stmt;
  },
  Results: (names, _eq) => list(names),
  OutTypes: (_c, types) => list(types),
  Body: (_o, params, stmts, yields, _c) =>
    ({ params: each(params), nodes: each(stmts), yields: yields.ast() }) satisfies Body,
  globalName(_at, name) {
    return { weight: true, name: name.sourceString, at: this.source.startIdx } satisfies Operand;
  },
  localName(_pc, name) {
    return { weight: false, name: name.sourceString, at: this.source.startIdx } satisfies Operand;
  },

  AttrBlock(_o, entries, _c) {
    const seen = new Set<string>();
    const pairs = entries.asIteration().children.map((e) => {
      const [key, value] = e.ast() as [string, Attr];
      if (seen.has(key)) throw new TextError(e.source.startIdx, `attribute ${JSON.stringify(key)} is given twice`);
      seen.add(key);
      return [key, value] as const;
    });
    // fromEntries defines own properties, so a key such as `__proto__` stays a key.
    return Object.fromEntries(pairs);
  },
  AttrEntry: (key, _eq, value) => [key.ast(), value.ast()],
  AttrList: (_o, items, _c) => list(items),
  ident(_a, _b) {
    return this.sourceString;
  },
  string(_q, _chars, _q2) {
    return JSON.parse(this.sourceString);
  },
  number(_n) {
    const s = this.sourceString;
    return s === 'nan' ? NaN : s === 'inf' ? Infinity : s === '-inf' ? -Infinity : Number(s);
  },
  bool(_b) {
    return this.sourceString === 'true';
  },
  int(_d) {
    return Number(this.sourceString);
  },

  Type(dtype, shape, annotations) {
    const type: { -readonly [K in keyof TensorType]: TensorType[K] } = { dtype: dtype.sourceString as DType, shape: shape.ast() };
    const limit = (type.shape[0] ?? 0) + MAX_SPARE_ROWS;
    for (const a of (opt(annotations) ?? []) as Annotation[]) {
      if (type[a.key] !== undefined) throw new TextError(a.at, `annotation '${a.key}' is given twice`);
      if (a.key === 'memory') type.memory = a.kind;
      else type[a.key] = expandRuns(a.runs, limit, a.key);
    }
    return type;
  },
  Shape: (_o, dims, _c) => list(dims),
  Annotations: (_o, anns, _c) => list(anns),
  Annotation_memory: (kw, _eq, kind) => ({ key: 'memory', kind: kind.sourceString as MemoryKind, at: kw.source.startIdx }) satisfies Annotation,
  Annotation_cn4: (kw, _eq, _o, runs, _c) => ({ key: 'cn4', runs: list(runs), at: kw.source.startIdx }) satisfies Annotation,
  Annotation_perm: (kw, _eq, _o, runs, _c) => ({ key: 'perm', runs: list(runs), at: kw.source.startIdx }) satisfies Annotation,
  Cn4Run_run: (n, _x, count) => ({ first: n.ast(), count: count.ast(), step: 0, at: n.source.startIdx }) satisfies Run,
  Cn4Run_one: (n) => ({ first: n.ast(), count: 1, step: 0, at: n.source.startIdx }) satisfies Run,
  PermRun_range(a, _dots, b) {
    const [first, last] = [a.ast() as number, b.ast() as number];
    if (last < first) throw new TextError(this.source.startIdx, `range ${first}..${last} is descending`);
    return { first, count: last - first + 1, step: 1, at: this.source.startIdx } satisfies Run;
  },
  PermRun_one: (n) => ({ first: n.ast(), count: 1, step: 0, at: n.source.startIdx }) satisfies Run,
});

/** Expands runs into a list, bounded so that a typo such as `2x99999999999` fails cleanly. */
function expandRuns(runs: readonly Run[], limit: number, what: string): number[] {
  const out: number[] = [];
  for (const r of runs) {
    if (out.length + r.count > limit) throw new TextError(r.at, `${what} lists more than ${limit} rows`);
    if (r.count > annotationBudget) throw new TextError(r.at, `the annotations of this text list more than ${MAX_ANNOTATION_ROWS} rows in all`);
    annotationBudget -= r.count;
    for (let i = 0; i < r.count; i++) out.push(r.first + i * r.step);
  }
  return out;
}

// --- syntax tree -> graph ---------------------------------------------------------------

function buildGraph(
  ast: GraphAst,
  weightData: WeightStore,
  positions: (at: number) => SourcePos,
  fail: (at: number, message: string) => never,
): ParseResult {
  const spans = new Map<object, SourcePos>();
  const weightNames = new Set(ast.weights.map((w) => w.name));

  const value = (d: Decl): Value => {
    const v = { name: d.name, type: d.type };
    spans.set(v, positions(d.at));
    return v;
  };
  const operand = (o: Operand): string => {
    if (o.weight && !weightNames.has(o.name)) fail(o.at, `@${o.name} is not a declared weight`);
    if (!o.weight && weightNames.has(o.name)) fail(o.at, `%${o.name} is a weight; write @${o.name}`);
    return o.name;
  };
  const region = (params: readonly Decl[], stmts: readonly Stmt[], outs: Operands): Region => {
    const r: Region = { inputs: params.map(value), nodes: stmts.map(node), outputs: outs.list.map(operand) };
    spans.set(r, positions(outs.at));
    return r;
  };
  const node = (s: Stmt): Node => {
    if (s.results.length !== s.types.length) fail(s.at, `${s.results.length} results but ${s.types.length} types`);
    const n: Node = {
      op: s.op,
      inputs: s.operands.map(operand),
      outputs: s.results.map((r, i) => ({ name: r.name, type: s.types[i] })),
      attrs: s.attrs,
      ...(s.body ? { body: region(s.body.params, s.body.nodes, s.body.yields) } : {}),
    };
    spans.set(n, positions(s.at));
    return n;
  };

  const inputs = ast.inputs.map(value);
  const weights = ast.weights.map(value);
  const nodes = ast.nodes.map(node);
  const outputs = ast.returns.list.map(operand);
  const graph = makeGraph({ name: ast.name, attrs: ast.attrs, inputs, weights, nodes, outputs, weightData });
  // makeGraph copies the top-level object; everything below keeps its identity.
  spans.set(graph, positions(ast.returns.at));
  return { graph, spans };
}

/**
 * Brackets nest at most this deep. The ohm matcher and the tree walk recurse once per
 * level, so `[[[[...` a few hundred deep overflowed the stack (a RangeError, not a
 * located error); real IR nests a body or an attribute list two or three levels.
 */
export const MAX_NESTING = 64;

/** Fails at the first bracket that opens level MAX_NESTING + 1 (strings and comments skipped). */
function checkNesting(text: string, fail: (at: number, message: string) => never): void {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      for (i++; i < text.length && text[i] !== '"' && text[i] !== '\n'; i++) if (text[i] === '\\') i++;
    } else if (c === '/' && text[i + 1] === '/') {
      while (i < text.length && text[i] !== '\n') i++;
    } else if (c === '{' || c === '[' || c === '(') {
      if (++depth > MAX_NESTING) fail(i, `brackets nest more than ${MAX_NESTING} levels deep`);
    } else if (c === '}' || c === ']' || c === ')') depth = Math.max(0, depth - 1);
  }
}

/** Offset -> 1-based line and column (UTF-16 units), by binary search over line starts. */
function lineIndex(text: string): (at: number) => SourcePos {
  let starts: number[] | undefined;
  return (at) => {
    if (!starts) {
      starts = [0];
      for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) starts.push(i + 1);
    }
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid] <= at) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: at - starts[lo] + 1 };
  };
}

function describeAt(text: string, at: number): string {
  if (at >= text.length) return 'end of input';
  const token = /^(\S{1,20})/.exec(text.slice(at, at + 20))?.[1];
  return token ? JSON.stringify(token) : JSON.stringify(text[at]);
}
