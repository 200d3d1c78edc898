// Where the CLI writes. Tests pass their own sinks; the binary uses the process streams.
import { InvalidArgumentError } from 'commander';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { SsmcError } from '../errors.ts';
import { tempSibling } from '../util/atomic-write.ts';

export interface CliIO {
  out(s: string): void;
  err(s: string): void;
  /** True when stderr is a terminal (progress bars only then). */
  readonly isTTY: boolean;
}

export function nodeIO(): CliIO {
  return {
    out: (s) => process.stdout.write(s),
    err: (s) => process.stderr.write(s),
    isTTY: Boolean(process.stderr.isTTY) && !process.env.CI,
  };
}

export function printJson(io: CliIO, value: unknown): void {
  io.out(`${JSON.stringify(value, null, 2)}\n`);
}

// Option parsers: a bad flag value is a usage error naming the flag.
export function intArg(min: number, max = Number.MAX_SAFE_INTEGER) {
  return (v: string): number => {
    const n = Number(v);
    if (!/^-?\d+$/.test(v.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`expected an integer in [${min}, ${max === Number.MAX_SAFE_INTEGER ? '∞' : max}], got '${v}'`);
    }
    return n;
  };
}

export function floatArg(min: number, max: number) {
  return (v: string): number => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n) || n < min || n > max) throw new InvalidArgumentError(`expected a number in [${min}, ${max}], got '${v}'`);
    return n;
  };
}

export function choiceArg<T extends string>(choices: readonly T[]) {
  return (v: string): T => {
    if (!choices.includes(v as T)) throw new InvalidArgumentError(`expected one of ${choices.join(', ')}, got '${v}'`);
    return v as T;
  };
}

export function intListArg(v: string): number[] {
  const parts = v.split(',').map((s) => s.trim());
  if (parts.length === 0 || parts.some((p) => !/^\d+$/.test(p))) throw new InvalidArgumentError(`expected comma-separated non-negative integers, got '${v}'`);
  return parts.map(Number);
}

/**
 * Builds an output folder at a hidden temporary sibling of `dir` and renames it into
 * place only when `build` succeeds, replacing any previous folder; when anything fails
 * (emitting, the C compiler) nothing is left behind and an old `dir` is kept. Every
 * step of `build` must work relative to the folder it is given (the generated
 * Makefiles and compiler commands do: they run with the folder as cwd).
 */
export function writeFolderAtomic<T>(dir: string, build: (tmp: string) => T): T {
  // Missing parents are created, and removed again on failure.
  let created: string | undefined;
  for (let p = dirname(resolve(dir)); !existsSync(p); p = dirname(p)) created = p;
  const tmp = tempSibling(dir);
  try {
    if (created) mkdirSync(dirname(resolve(dir)), { recursive: true });
    const result = build(tmp);
    if (existsSync(dir)) {
      const old = tempSibling(dir);
      renameSync(dir, old);
      renameSync(tmp, dir);
      rmSync(old, { recursive: true, force: true });
    } else renameSync(tmp, dir);
    return result;
  } catch (e) {
    rmSync(created ?? tmp, { recursive: true, force: true });
    if (e instanceof SsmcError) throw e;
    throw new SsmcError('E_IO', `cannot write: ${(e as Error).message}`, { file: dir }, { cause: e });
  }
}
