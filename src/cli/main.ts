// The ssmc command line. Library code never prints; everything user-facing is here.
import { Command, CommanderError } from 'commander';
import { isSsmcError } from '../errors.ts';
import { registerBench } from './commands/bench.ts';
import { registerCompile } from './commands/compile.ts';
import { registerCheckPass } from './commands/check-pass.ts';
import { registerDemo } from './commands/demo.ts';
import { registerEval } from './commands/eval.ts';
import { registerInspect } from './commands/inspect.ts';
import { registerIr } from './commands/ir.ts';
import { registerLogits } from './commands/logits.ts';
import { registerPrune } from './commands/prune.ts';
import { registerRun } from './commands/run.ts';
import { registerSynth } from './commands/synth.ts';
import { CliIO, nodeIO } from './io.ts';

export function buildProgram(io: CliIO): Command {
  const program = new Command('ssmc')
    .description('Graph-IR compiler for Mamba (selective state-space) language models')
    .version('0.1.0')
    .option('--debug', 'show stack traces on errors')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s), writeErr: (s) => io.err(s) });
  for (const register of [registerInspect, registerSynth, registerIr, registerLogits, registerEval, registerPrune, registerDemo, registerCompile, registerCheckPass, registerBench, registerRun]) {
    const cmd = register(program, io);
    cmd.exitOverride().configureOutput({ writeOut: (s) => io.out(s), writeErr: (s) => io.err(s) }).showHelpAfterError('(run with --help for usage)');
  }
  return program;
}

/** Runs the CLI; returns the exit code (0 ok, 1 failure, 2 usage error). */
export async function main(argv: readonly string[], io: CliIO = nodeIO()): Promise<number> {
  const program = buildProgram(io);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2; // commander already printed the message
    const debug = argv.includes('--debug');
    if (isSsmcError(e)) {
      io.err(`ssmc: error[${e.code}]: ${e.message}\n`);
      if (debug && e.stack) io.err(`${e.stack}\n`);
      return e.code === 'E_ARG' ? 2 : 1;
    }
    io.err(`ssmc: internal error: ${(e as Error)?.message ?? String(e)}\n`);
    if (debug) io.err(`${(e as Error)?.stack ?? ''}\n`);
    else io.err('(run with --debug for a stack trace, and please report it)\n');
    return 1;
  }
}
