// Passes and their registry (after MLIR's PassRegistry). A pass is a kebab-case name
// (also its file name and its pipeline token), a description, typed options with
// defaults, and a pure `run(graph, options, ctx)` returning the new graph. Built-in and
// user passes register through exactly this API (`definePass` + `registerPass`).
import { SsmcError } from '../errors.ts';
import type { Graph } from '../ir/graph.ts';

// ---------------------------------------------------------------------------------
// Options

interface OptionBase {
  /** One line shown in `--help`-style listings and in error messages. */
  readonly doc?: string;
}
export interface IntOption extends OptionBase {
  readonly kind: 'int';
  readonly default?: number;
  readonly min?: number;
  readonly max?: number;
}
export interface FloatOption extends OptionBase {
  readonly kind: 'float';
  readonly default?: number;
  readonly min?: number;
  readonly max?: number;
}
export interface BoolOption extends OptionBase {
  readonly kind: 'bool';
  readonly default?: boolean;
}
export interface StringOption extends OptionBase {
  readonly kind: 'string';
  readonly default?: string;
}
export interface EnumOption<V extends string = string> extends OptionBase {
  readonly kind: 'enum';
  readonly values: readonly V[];
  readonly default?: V;
}
export type OptionSpec = IntOption | FloatOption | BoolOption | StringOption | EnumOption;
export type OptionSpecs = Readonly<Record<string, OptionSpec>>;

/** The TypeScript type of one option's value. */
export type OptionValue<S extends OptionSpec> = S extends IntOption | FloatOption
  ? number
  : S extends BoolOption
    ? boolean
    : S extends EnumOption<infer V>
      ? V
      : string;

/** The options a pass's `run` receives: defaulted options are always present. */
export type OptionValues<O extends OptionSpecs> = {
  readonly [K in keyof O]: O[K] extends { readonly default: unknown } ? OptionValue<O[K]> : OptionValue<O[K]> | undefined;
};

/** A value as written in a pipeline string (or passed directly to `runPass`). */
export type PipelineValue = number | string | boolean;

/** Shorthands for option specs (plain object literals work just as well). */
export const option = {
  int<const D extends Omit<IntOption, 'kind'>>(o: D = {} as D): D & { readonly kind: 'int' } {
    return { ...o, kind: 'int' };
  },
  float<const D extends Omit<FloatOption, 'kind'>>(o: D = {} as D): D & { readonly kind: 'float' } {
    return { ...o, kind: 'float' };
  },
  bool<const D extends Omit<BoolOption, 'kind'>>(o: D = {} as D): D & { readonly kind: 'bool' } {
    return { ...o, kind: 'bool' };
  },
  string<const D extends Omit<StringOption, 'kind'>>(o: D = {} as D): D & { readonly kind: 'string' } {
    return { ...o, kind: 'string' };
  },
  enum<const V extends string, const D extends { readonly default?: NoInfer<V>; readonly doc?: string }>(
    values: readonly V[],
    o: D = {} as D,
  ): D & { readonly kind: 'enum'; readonly values: readonly V[] } {
    return { ...o, kind: 'enum', values };
  },
};

// ---------------------------------------------------------------------------------
// Pass context (analyses and services)

/**
 * What a pass sees besides its graph and options. Analyses are computed once per
 * manager run and cached; the manager drops them when a pass returns a different graph
 * unless the pass preserved them. Services are whatever the caller wired in (a target
 * cost model, calibration data, a fast runner): passes never import a backend.
 */
export interface PassContext {
  /** Name of the pass now running (`''` outside a pass). */
  readonly pass: string;
  /** Open record of caller-provided services. */
  readonly services: Readonly<Record<string, unknown>>;
  /** A service by name; E_PASS naming the pass and the service when it is missing. */
  service<T>(name: string): T;
  /**
   * The cached result of analysis `key`, computing it from the current pass's input
   * graph on first use. Keys name the analysis (e.g. `calibration`), not the graph.
   */
  analysis<T>(key: string, compute: (graph: Graph) => T): T;
  /** True when `key` is cached (without computing it). */
  hasAnalysis(key: string): boolean;
  /**
   * Marks analyses as still valid for the graph this pass returns (call with no
   * argument to preserve all). Without it, a pass that returns a new graph drops them.
   */
  preserve(...keys: string[]): void;
  /**
   * Reports progress of a long stage (`done` of `total` units). The library never prints:
   * the caller's `onProgress` decides (the CLI draws a bar on a terminal).
   */
  progress(stage: string, done: number, total: number): void;
}

/** Receives progress reports: the pass, its stage, units done and total. */
export type ProgressSink = (pass: string, stage: string, done: number, total: number) => void;

/** Per-run state behind a PassContext; the manager owns one per `run`. */
export class AnalysisCache {
  readonly #entries = new Map<string, unknown>();
  /** How many times each key was computed (for tests and `--timing`-style reports). */
  readonly computeCounts = new Map<string, number>();

  get<T>(key: string, graph: Graph, compute: (graph: Graph) => T): T {
    if (this.#entries.has(key)) return this.#entries.get(key) as T;
    const v = compute(graph);
    this.#entries.set(key, v);
    this.computeCounts.set(key, (this.computeCounts.get(key) ?? 0) + 1);
    return v;
  }

  has(key: string): boolean {
    return this.#entries.has(key);
  }

  keys(): string[] {
    return [...this.#entries.keys()];
  }

  /** Drops every entry not in `keep` (`'all'` keeps everything). */
  invalidateExcept(keep: ReadonlySet<string> | 'all'): void {
    if (keep === 'all') return;
    for (const k of [...this.#entries.keys()]) if (!keep.has(k)) this.#entries.delete(k);
  }
}

export interface PassContextInit {
  readonly services?: Readonly<Record<string, unknown>>;
  readonly cache?: AnalysisCache;
  readonly onProgress?: ProgressSink;
}

/** A context for running one pass (the manager makes one per pass invocation). */
export class PassRunContext implements PassContext {
  readonly pass: string;
  readonly services: Readonly<Record<string, unknown>>;
  readonly cache: AnalysisCache;
  readonly #graph: Graph;
  readonly #onProgress?: ProgressSink;
  #preserved: Set<string> | 'all' = new Set();

  constructor(pass: string, graph: Graph, init: PassContextInit = {}) {
    this.pass = pass;
    this.#graph = graph;
    this.services = init.services ?? {};
    this.cache = init.cache ?? new AnalysisCache();
    this.#onProgress = init.onProgress;
  }

  progress(stage: string, done: number, total: number): void {
    this.#onProgress?.(this.pass, stage, done, total);
  }

  service<T>(name: string): T {
    if (!Object.hasOwn(this.services, name) || this.services[name] === undefined) {
      const have = Object.keys(this.services);
      throw new SsmcError(
        'E_PASS',
        `pass '${this.pass}' needs the service '${name}', which the caller did not provide${have.length ? ` (provided: ${have.join(', ')})` : ' (none provided)'}`,
      );
    }
    return this.services[name] as T;
  }

  analysis<T>(key: string, compute: (graph: Graph) => T): T {
    return this.cache.get(key, this.#graph, compute);
  }

  hasAnalysis(key: string): boolean {
    return this.cache.has(key);
  }

  preserve(...keys: string[]): void {
    if (keys.length === 0) this.#preserved = 'all';
    else if (this.#preserved !== 'all') for (const k of keys) this.#preserved.add(k);
  }

  /** What the pass asked to keep (merged with its definition's `preserves`). */
  preserved(def: PassDef<OptionSpecs>): ReadonlySet<string> | 'all' {
    if (this.#preserved === 'all' || def.preserves === 'all') return 'all';
    return new Set([...this.#preserved, ...(def.preserves ?? [])]);
  }
}

// ---------------------------------------------------------------------------------
// Pass definitions and the registry

export interface PassDef<O extends OptionSpecs = OptionSpecs> {
  /** kebab-case; the pipeline token and the pass's file name. */
  readonly name: string;
  readonly description: string;
  readonly options: O;
  /** Analyses that stay valid even when the pass returns a new graph. */
  readonly preserves?: readonly string[] | 'all';
  /** Pure: returns the new graph (or the same object when nothing changed). */
  run(graph: Graph, options: OptionValues<O>, ctx: PassContext): Graph;
}

export interface PassInit<O extends OptionSpecs> {
  readonly name: string;
  readonly description: string;
  readonly options?: O;
  readonly preserves?: readonly string[] | 'all';
  run(graph: Graph, options: OptionValues<O>, ctx: PassContext): Graph;
}

export const PASS_NAME = /^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$/;
export const OPTION_NAME = /^[a-z][A-Za-z0-9]*(?:[-_][A-Za-z0-9]+)*$/;

/** Checks and freezes a pass definition. Does not register it (see `registerPass`). */
export function definePass<const O extends OptionSpecs = {}>(init: PassInit<O>): PassDef<O> {
  const bad = (msg: string): never => {
    throw new SsmcError('E_ARG', `definePass('${init.name}'): ${msg}`);
  };
  if (typeof init.name !== 'string' || !PASS_NAME.test(init.name)) bad(`pass names are kebab-case (lowercase words joined by '-', e.g. fold-double-neg)`);
  if (typeof init.description !== 'string' || init.description.trim() === '') bad('a description is required');
  if (typeof init.run !== 'function') bad('run(graph, options, ctx) is required');
  const options = (init.options ?? {}) as O;
  for (const [key, spec] of Object.entries(options)) {
    if (!OPTION_NAME.test(key)) bad(`option name '${key}' must start with a lowercase letter and contain letters, digits, '-' or '_'`);
    checkSpec(init.name, key, spec, bad);
  }
  const def: PassDef<O> = {
    name: init.name,
    description: init.description,
    options,
    ...(init.preserves !== undefined ? { preserves: init.preserves } : {}),
    run: init.run,
  };
  return Object.freeze(def);
}

function checkSpec(pass: string, key: string, spec: OptionSpec, bad: (m: string) => never): void {
  const kinds = ['int', 'float', 'bool', 'string', 'enum'];
  if (!spec || !kinds.includes(spec.kind)) bad(`option '${key}' has kind '${(spec as { kind?: unknown })?.kind}' (kinds: ${kinds.join(', ')})`);
  if (spec.kind === 'int' || spec.kind === 'float') {
    const { min, max } = spec;
    if (min !== undefined && !Number.isFinite(min)) bad(`option '${key}': min must be finite`);
    if (max !== undefined && !Number.isFinite(max)) bad(`option '${key}': max must be finite`);
    if (min !== undefined && max !== undefined && min > max) bad(`option '${key}': min ${min} > max ${max}`);
  }
  if (spec.kind === 'enum') {
    if (!Array.isArray(spec.values) || spec.values.length === 0) bad(`option '${key}': an enum needs at least one value`);
    if (new Set(spec.values).size !== spec.values.length) bad(`option '${key}': enum values repeat`);
    if (!spec.values.every((v) => typeof v === 'string')) bad(`option '${key}': enum values are strings`);
  }
  if (spec.default !== undefined) {
    try {
      convertOption(pass, key, spec, spec.default);
    } catch (e) {
      bad(`default of option '${key}' is invalid: ${(e as Error).message}`);
    }
  }
}

const registry = new Map<string, PassDef<OptionSpecs>>();

/** Adds a pass to the registry; E_ARG on a duplicate or a non-kebab name. Returns `def`. */
export function registerPass<O extends OptionSpecs>(def: PassDef<O>): PassDef<O> {
  if (!def || typeof def.name !== 'string' || !PASS_NAME.test(def.name)) {
    throw new SsmcError('E_ARG', `registerPass: '${def?.name}' is not a kebab-case pass name (e.g. fold-double-neg)`);
  }
  if (typeof def.run !== 'function' || typeof def.options !== 'object') {
    throw new SsmcError('E_ARG', `registerPass('${def.name}'): not a pass definition (make it with definePass)`);
  }
  const existing = registry.get(def.name);
  if (existing) {
    if (existing === (def as unknown)) return def; // registering the same object twice is harmless
    throw new SsmcError('E_ARG', `registerPass: a pass named '${def.name}' is already registered`);
  }
  registry.set(def.name, def as unknown as PassDef<OptionSpecs>);
  return def;
}

/** Removes a pass (for tests that register temporary passes). True if it was there. */
export function unregisterPass(name: string): boolean {
  return registry.delete(name);
}

/** The registered pass; E_PIPELINE naming it and listing the known ones otherwise. */
export function getPass(name: string): PassDef<OptionSpecs> {
  const d = registry.get(name);
  if (!d) throw new SsmcError('E_PIPELINE', unknownPassMessage(name));
  return d;
}

export function findPass(name: string): PassDef<OptionSpecs> | undefined {
  return registry.get(name);
}

/** Every registered pass, sorted by name. */
export function listPasses(): PassDef<OptionSpecs>[] {
  return [...registry.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

// ---------------------------------------------------------------------------------
// Option conversion

/** One option value checked and converted to its spec's type; E_PIPELINE otherwise. */
export function convertOption(pass: string, key: string, spec: OptionSpec, value: PipelineValue): PipelineValue {
  const fail = (what: string, hint = ''): never => {
    throw new SsmcError('E_PIPELINE', `option '${key}' of pass '${pass}' ${what}, got ${describeValue(value)}${hint}${spec.doc ? ` (${key}: ${spec.doc})` : ''}`);
  };
  switch (spec.kind) {
    case 'int':
    case 'float': {
      const isInt = spec.kind === 'int';
      if (typeof value !== 'number' || !Number.isFinite(value)) fail(`must be ${isInt ? 'an integer' : 'a number'}`);
      const n = value as number;
      if (isInt && !Number.isSafeInteger(n)) fail('must be an integer');
      const { min, max } = spec;
      if ((min !== undefined && n < min) || (max !== undefined && n > max)) {
        fail(`must be ${min !== undefined && max !== undefined ? `in [${min}, ${max}]` : min !== undefined ? `>= ${min}` : `<= ${max}`}`);
      }
      return n;
    }
    case 'bool':
      if (typeof value !== 'boolean') fail('must be true or false');
      return value;
    case 'string':
      // A number or a boolean written bare is taken as its canonical text.
      return typeof value === 'number' ? numberText(value) : String(value);
    case 'enum': {
      const s = typeof value === 'number' ? numberText(value) : String(value);
      if (!spec.values.includes(s)) {
        const hint = didYouMean(s, spec.values);
        fail(`must be one of ${spec.values.join('|')}`, hint ? ` (did you mean '${hint}'?)` : '');
      }
      return s;
    }
  }
}

/**
 * Checks raw option values against a pass's specs and fills in defaults. Unknown
 * options are E_PIPELINE errors naming the option and listing the pass's options.
 */
export function resolveOptions<O extends OptionSpecs>(def: PassDef<O>, raw: Readonly<Record<string, PipelineValue | undefined>> = {}): OptionValues<O> {
  const out: Record<string, PipelineValue | undefined> = {};
  for (const key of Object.keys(raw)) {
    if (!Object.hasOwn(def.options, key)) throw new SsmcError('E_PIPELINE', unknownOptionMessage(def, key));
  }
  for (const [key, spec] of Object.entries(def.options)) {
    const v = Object.hasOwn(raw, key) ? raw[key] : undefined;
    out[key] = v === undefined ? spec.default : convertOption(def.name, key, spec, v);
  }
  return Object.freeze(out) as OptionValues<O>;
}

export function unknownOptionMessage(def: PassDef<OptionSpecs>, key: string): string {
  const names = Object.keys(def.options);
  if (names.length === 0) return `pass '${def.name}' has no option '${key}' (it takes no options)`;
  const hint = didYouMean(key, names);
  return `pass '${def.name}' has no option '${key}'${hint ? ` (did you mean '${hint}'?)` : ''}; its options: ${names.map((n) => describeOption(n, def.options[n])).join(', ')}`;
}

/** `name=<int in [0,4]> (default 2)` style summary of one option. */
export function describeOption(name: string, spec: OptionSpec): string {
  let t: string;
  switch (spec.kind) {
    case 'enum': t = spec.values.join('|'); break;
    case 'int':
    case 'float': {
      const range = spec.min !== undefined || spec.max !== undefined ? ` in [${spec.min ?? '-inf'}, ${spec.max ?? 'inf'}]` : '';
      t = `${spec.kind}${range}`;
      break;
    }
    default: t = spec.kind;
  }
  return `${name}=<${t}>${spec.default !== undefined ? ` (default ${String(spec.default)})` : ''}`;
}

/** `unknown pass 'x' (did you mean 'y'?); known passes: ...` */
export function unknownPassMessage(name: string): string {
  const known = [...registry.keys()].sort();
  const hint = didYouMean(name, known);
  return `unknown pass '${name}'${hint ? ` (did you mean '${hint}'?)` : ''}; known passes: ${known.length ? known.join(', ') : '(none registered)'}`;
}

function describeValue(v: PipelineValue): string {
  return typeof v === 'string' ? JSON.stringify(v) : typeof v === 'number' ? numberText(v) : String(v);
}

/** Canonical decimal text of a number (keeps the sign of -0). */
export function numberText(n: number): string {
  return Object.is(n, -0) ? '-0' : String(n);
}

/** The closest candidate within a small edit distance (or a prefix match), if any. */
export function didYouMean(name: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  const lower = name.toLowerCase();
  for (const c of candidates) {
    const d = editDistance(lower, c.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  if (best !== undefined && bestD <= Math.max(1, Math.floor(name.length / 3))) return best;
  const prefix = candidates.filter((c) => lower.length >= 2 && (c.startsWith(lower) || lower.startsWith(c)));
  return prefix.length === 1 ? prefix[0] : undefined;
}

function editDistance(a: string, b: string): number {
  // Damerau (adjacent transpositions) on top of Levenshtein.
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

/**
 * Runs one pass directly (no pipeline, no verification, no reproducer): options are
 * checked and defaulted as in a pipeline. Meant for tests and for tools such as a
 * pass fuzzer; applications use a PassManager.
 */
export function runPass<O extends OptionSpecs>(
  def: PassDef<O>,
  graph: Graph,
  options?: Readonly<Partial<Record<keyof O & string, PipelineValue>>>,
  init: PassContextInit = {},
): Graph {
  const opts = resolveOptions(def, (options ?? {}) as Record<string, PipelineValue | undefined>);
  return def.run(graph, opts, new PassRunContext(def.name, graph, init));
}
