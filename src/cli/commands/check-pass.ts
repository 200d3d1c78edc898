// `ssmc check-pass FILE`: fuzz the passes a user's module defines (see checkPass in
// src/testing/check-pass.ts). The module is imported as code, TypeScript included (the
// CLI runs under tsx); its passes are the ones it registers on import plus any PassDef
// it exports (default export included), so a module already imported still counts.
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { SsmcError } from '../../errors.ts';
import type { OptionSpecs, PassDef, PipelineValue } from '../../passes/index.ts';
import { listPasses, PASS_NAME, resolvePipeline } from '../../passes/index.ts';
import type { CheckResult } from '../../testing/check-pass.ts';
import { checkPass } from '../../testing/check-pass.ts';
import type { CliIO } from '../io.ts';
import { floatArg, intArg, printJson } from '../io.ts';

interface Opts {
  pass?: string;
  runs: number;
  seed?: number;
  path?: string;
  rel: number;
  abs: number;
  json?: boolean;
}

export function registerCheckPass(program: Command, io: CliIO): Command {
  return program
    .command('check-pass')
    .description('fuzz the passes a module registers or exports: run them on generated graphs and compare interpreter outputs before and after')
    .argument('<file>', 'a .ts or .js module that registers passes (registerPass) or exports PassDefs')
    .option('--pass <step>', 'check only this pass, with options as in a pipeline (e.g. "reorder-weights{fold=false}")')
    .option('--runs <N>', 'generated cases per pass', intArg(1, 1_000_000), 100)
    .option('--seed <S>', 'fast-check seed (default: random, printed)', intArg(-(2 ** 31), 2 ** 31 - 1))
    .option('--path <P>', 'replay the counter-example at this fast-check path (with its --seed)')
    .option('--rel <R>', 'relative tolerance on outputs', floatArg(0, 1), 0)
    .option('--abs <A>', 'absolute tolerance on outputs', floatArg(0, Number.MAX_VALUE), 0)
    .option('--json', 'print the results as JSON')
    .action(async (file: string, o: Opts) => {
      const targets = await passesOf(file, o.pass);
      const results: CheckResult[] = targets.map(({ def, options }) =>
        checkPass(def, { runs: o.runs, seed: o.seed, path: o.path, options, tolerance: { rel: o.rel, abs: o.abs } }),
      );
      if (o.json) printJson(io, results);
      else for (const r of results) io.out(r.report);
      const failed = results.filter((r) => !r.ok).map((r) => r.pass);
      if (failed.length) throw new SsmcError('E_PASS', `${failed.length} of ${results.length} passes failed their check: ${failed.join(', ')}`, { file });
    });
}

interface Target {
  readonly def: PassDef<OptionSpecs>;
  readonly options: Record<string, PipelineValue>;
}

async function passesOf(file: string, only: string | undefined): Promise<Target[]> {
  const abs = resolve(file);
  if (!existsSync(abs)) throw new SsmcError('E_IO', 'no such file', { file });
  const before = new Set(listPasses().map((p) => p.name));
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(abs).href)) as Record<string, unknown>;
  } catch (e) {
    throw new SsmcError('E_IO', `cannot load the module: ${e instanceof Error ? e.message : String(e)}`, { file });
  }
  const found = new Map<string, PassDef<OptionSpecs>>();
  for (const p of listPasses()) if (!before.has(p.name)) found.set(p.name, p);
  for (const v of Object.values(mod)) if (isPassDef(v) && !found.has(v.name)) found.set(v.name, v);
  if (only !== undefined) {
    // Any registered pass may be named (the module's own first, then the built-ins).
    const [step] = resolvePipeline(only);
    if (!step) throw new SsmcError('E_ARG', `--pass needs a pass name, got '${only}'`);
    return [{ def: found.get(step.pass.name) ?? step.pass, options: { ...step.step.options } }];
  }
  if (found.size === 0) throw new SsmcError('E_ARG', 'the module defines no pass (register one with registerPass, or export a PassDef)', { file });
  return [...found.values()].map((def) => ({ def, options: {} }));
}

function isPassDef(v: unknown): v is PassDef<OptionSpecs> {
  if (typeof v !== 'object' || v === null) return false;
  const p = v as Record<string, unknown>;
  return typeof p.name === 'string' && PASS_NAME.test(p.name) && typeof p.run === 'function' && typeof p.options === 'object' && typeof p.description === 'string';
}
