// Pipeline strings (normative description: specs/pipeline.md):
//
//   sparsify-cn4{sparsity=0.5 method=obs},reorder-weights,dce
//
// `parsePipeline` is purely syntactic; `resolvePipeline` looks passes and options up in
// the registry and converts the values. `printPipeline` writes the canonical form, so
// parse(print(steps)) equals steps and print(parse(s)) === s for a canonical s.
import { SsmcError } from '../errors.ts';
import type { Location } from '../errors.ts';
import type { OptionSpecs, OptionValues, PassDef, PipelineValue } from './pass.ts';
import { convertOption, findPass, numberText, unknownOptionMessage, unknownPassMessage } from './pass.ts';
// Resolving must see the built-in passes whichever module a caller imported first.
import './builtins.ts';

export interface PipelineStep {
  /** The pass name as written. */
  readonly pass: string;
  /** Options in the order written. */
  readonly options: Readonly<Record<string, PipelineValue>>;
}

export interface ResolvedStep {
  readonly step: PipelineStep;
  readonly pass: PassDef<OptionSpecs>;
  /** Converted values, defaults filled in. */
  readonly options: OptionValues<OptionSpecs>;
}

/** Pass names and option keys. */
export const PIPELINE_NAME = /^[A-Za-z_][A-Za-z0-9_-]*$/;
/** A bare (unquoted) value: a number, `true`/`false`, or a word. */
export const BARE_VALUE = /^[A-Za-z0-9_.+\-/:]+$/;
/** Numbers as written in pipelines (decimal, optional exponent). */
export const PIPELINE_NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

const isNameStart = (c: string) => /[A-Za-z_]/.test(c);
const isNameChar = (c: string) => /[A-Za-z0-9_-]/.test(c);
const isBareChar = (c: string) => /[A-Za-z0-9_.+\-/:]/.test(c);
const isSpace = (c: string) => c === ' ' || c === '\t' || c === '\n' || c === '\r';

interface StepSpan {
  readonly text: string;
  readonly at: number;
  readonly keys: ReadonlyMap<string, number>;
  readonly values: ReadonlyMap<string, number>;
}

/** Source offsets of parsed steps, keyed by identity (invisible to equality). */
const spans = new WeakMap<PipelineStep, StepSpan>();

/** Location and caret excerpt of `offset` in `text`. */
function locate(text: string, offset: number): { loc: Location; excerpt: string } {
  let line = 1;
  let start = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text[i] === '\n') {
      line++;
      start = i + 1;
    }
  }
  let end = text.indexOf('\n', start);
  if (end < 0) end = text.length;
  const column = offset - start + 1;
  const lineText = text.slice(start, end).replace(/\r$/, '');
  return { loc: { file: '<pipeline>', line, column }, excerpt: `\n  ${lineText}\n  ${' '.repeat(Math.max(0, column - 1))}^` };
}

function pipelineError(text: string | undefined, offset: number | undefined, message: string): SsmcError {
  if (text === undefined || offset === undefined) return new SsmcError('E_PIPELINE', message);
  const { loc, excerpt } = locate(text, offset);
  return new SsmcError('E_PIPELINE', message + excerpt, loc);
}

/** Parses a pipeline string; E_PIPELINE with line:column and a caret on bad syntax. */
export function parsePipeline(text: string): PipelineStep[] {
  let pos = 0;
  const ch = () => text[pos] ?? '';
  const eof = () => pos >= text.length;
  const err = (message: string, at = pos): never => {
    throw pipelineError(text, at, message);
  };
  const skipWs = () => {
    while (!eof() && isSpace(ch())) pos++;
  };
  const name = (what: string): string => {
    const start = pos;
    if (!isNameStart(ch())) err(eof() ? `expected ${what}, found the end of the pipeline` : `expected ${what}, found '${ch()}'`);
    while (!eof() && isNameChar(ch())) pos++;
    return text.slice(start, pos);
  };

  const value = (key: string): PipelineValue => {
    const start = pos;
    if (ch() === '"') {
      pos++;
      while (true) {
        if (eof()) err(`unterminated string in the value of '${key}'`, start);
        const c = ch();
        if (c === '"') break;
        if (c === '\\') {
          const e = text[pos + 1] ?? '';
          if ('"\\/bfnrt'.includes(e) && e !== '') pos += 2;
          else if (e === 'u' && /^[0-9a-fA-F]{4}$/.test(text.slice(pos + 2, pos + 6))) pos += 6;
          else err(`invalid escape '\\${e}' in a string (JSON escapes: \\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)`);
          continue;
        }
        if (c < ' ') err(`control character U+${c.charCodeAt(0).toString(16).padStart(4, '0')} in a string (write it as an escape)`);
        pos++;
      }
      pos++;
      return JSON.parse(text.slice(start, pos)) as string;
    }
    if (!isBareChar(ch())) {
      err(`expected a value for '${key}' (a number, a word or a "quoted string"), found ${eof() ? 'the end of the pipeline' : `'${ch()}'`}`);
    }
    while (!eof() && isBareChar(ch())) pos++;
    const word = text.slice(start, pos);
    if (PIPELINE_NUMBER.test(word)) {
      const n = Number(word);
      if (!Number.isFinite(n)) err(`number ${word} is out of range`, start);
      return n;
    }
    if (word === 'true') return true;
    if (word === 'false') return false;
    return word;
  };

  const steps: PipelineStep[] = [];
  skipWs();
  if (eof()) return steps;
  while (true) {
    const at = pos;
    const pass = name('a pass name');
    const keys = new Map<string, number>();
    const values = new Map<string, number>();
    const entries: [string, PipelineValue][] = [];
    skipWs();
    if (ch() === '{') {
      const open = pos;
      pos++;
      skipWs();
      while (ch() !== '}') {
        if (eof()) err(`unclosed '{' of pass '${pass}' (expected '}')`, open);
        if (ch() === ',') err(`options are separated by spaces, not commas`);
        const keyAt = pos;
        const key = name(`an option name or '}'`);
        if (keys.has(key)) err(`option '${key}' of pass '${pass}' is given twice`, keyAt);
        skipWs();
        if (ch() !== '=') err(`expected '=' after option '${key}'`);
        pos++;
        skipWs();
        const valueAt = pos;
        const v = value(key);
        keys.set(key, keyAt);
        values.set(key, valueAt);
        entries.push([key, v]);
        if (ch() === '}') break;
        if (ch() === ',') err(`options are separated by spaces, not commas`);
        if (!isSpace(ch())) err(eof() ? `unclosed '{' of pass '${pass}' (expected '}')` : `expected a space or '}' after the value of '${key}', found '${ch()}'`, eof() ? open : pos);
        skipWs();
      }
      pos++;
      skipWs();
    }
    const step: PipelineStep = Object.freeze({ pass, options: Object.freeze(Object.fromEntries(entries)) });
    spans.set(step, { text, at, keys, values });
    steps.push(step);
    if (eof()) break;
    if (ch() !== ',') err(ch() === '{' ? `unexpected '{'` : `expected ',' or the end of the pipeline, found '${ch()}'`);
    pos++;
    skipWs();
    if (eof()) err(`expected a pass name after ','`);
  }
  return steps;
}

/** The canonical text of one value. */
export function printPipelineValue(v: PipelineValue): string {
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new SsmcError('E_PIPELINE', `pipeline values must be finite numbers, got ${v}`);
    return numberText(v);
  }
  if (typeof v === 'boolean') return String(v);
  if (typeof v !== 'string') throw new SsmcError('E_PIPELINE', `pipeline values are numbers, strings or booleans, got ${typeof v}`);
  const bare = BARE_VALUE.test(v) && !PIPELINE_NUMBER.test(v) && v !== 'true' && v !== 'false';
  return bare ? v : JSON.stringify(v);
}

/** The canonical pipeline string: `a{k=v k2=v2},b`, no spaces except between options. */
export function printPipeline(steps: readonly PipelineStep[]): string {
  return steps
    .map((s) => {
      if (!PIPELINE_NAME.test(s.pass)) throw new SsmcError('E_PIPELINE', `'${s.pass}' cannot be written as a pass name in a pipeline`);
      const opts = Object.entries(s.options).map(([k, v]) => {
        if (!PIPELINE_NAME.test(k)) throw new SsmcError('E_PIPELINE', `'${k}' cannot be written as an option name of pass '${s.pass}'`);
        return `${k}=${printPipelineValue(v)}`;
      });
      return opts.length ? `${s.pass}{${opts.join(' ')}}` : s.pass;
    })
    .join(',');
}

/**
 * Looks every step up in the pass registry and converts its options. Unknown passes and
 * options, and bad values, are E_PIPELINE errors that name them, list the valid ones and
 * (for parsed steps) point at the column.
 */
export function resolvePipeline(pipeline: string | readonly PipelineStep[]): ResolvedStep[] {
  const steps = typeof pipeline === 'string' ? parsePipeline(pipeline) : pipeline;
  return steps.map((step) => {
    const span = spans.get(step);
    const def = findPass(step.pass);
    if (!def) throw pipelineError(span?.text, span?.at, unknownPassMessage(step.pass));
    const out: Record<string, PipelineValue | undefined> = {};
    for (const key of Object.keys(step.options)) {
      if (!Object.hasOwn(def.options, key)) throw pipelineError(span?.text, span?.keys.get(key), unknownOptionMessage(def, key));
    }
    for (const [key, spec] of Object.entries(def.options)) {
      if (!Object.hasOwn(step.options, key)) {
        out[key] = spec.default;
        continue;
      }
      try {
        out[key] = convertOption(def.name, key, spec, step.options[key]);
      } catch (e) {
        if (!(e instanceof SsmcError)) throw e;
        throw pipelineError(span?.text, span?.values.get(key), e.message);
      }
    }
    return Object.freeze({ step, pass: def, options: Object.freeze(out) as OptionValues<OptionSpecs> });
  });
}
