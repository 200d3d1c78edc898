import type { Command } from 'commander';
import { SsmcError } from '../../errors.ts';
import { generate } from '../../runtime/generate.ts';
import { tokenizerFor } from '../../tokenizer/index.ts';
import { Prng } from '../../util/prng.ts';
import type { CliIO } from '../io.ts';
import { choiceArg, floatArg, intArg } from '../io.ts';
import type { BackendName } from '../model.ts';
import { BACKENDS, decodeGraph, loadModel, makeRunner } from '../model.ts';
import type { PipelineFlags } from '../pipeline-flags.ts';
import { addPipelineFlags, noteInterleavedCn4 } from '../pipeline-flags.ts';
import { compileStep, withStep } from '../progress.ts';

interface RunFlags extends PipelineFlags {
  prompt: string;
  maxTokens: number;
  temperature: number;
  seed: number;
  backend: BackendName;
  threads?: number;
  ignoreEos?: boolean;
}

/** Thrown from onToken to end generation at the end-of-text token. */
class Stop {}

export function registerRun(program: Command, io: CliIO): Command {
  const cmd = program
    .command('run')
    .description('generate a continuation of a prompt, streaming the text to stdout as tokens are produced')
    .argument('<model>', 'HF folder, .safetensors file or .gguf file')
    .requiredOption('--prompt <text>', 'the text to continue')
    .option('-n, --max-tokens <N>', 'tokens to generate', intArg(1, 1 << 24), 128)
    .option('--temperature <T>', '0 = greedy; otherwise sample from softmax(logits / T)', floatArg(0, 100), 0.8)
    .option('--seed <S>', 'random seed of the sampler', intArg(0, Number.MAX_SAFE_INTEGER), 0)
    .option('--backend <name>', `execution backend (${BACKENDS.join(', ')})`, choiceArg(BACKENDS), 'interp')
    .option('--threads <n>', 'threads of a native backend', intArg(1, 256))
    .option('--ignore-eos', 'keep generating past the end-of-text token');
  return addPipelineFlags(cmd).action((model: string, o: RunFlags) => {
    const ck = loadModel(model);
    const tok = tokenizerFor(ck); // before any compilation: a missing tokenizer fails fast
    let prompt = tok.encode(o.prompt);
    if (prompt.length === 0) {
      if (tok.bos === undefined) throw new SsmcError('E_ARG', 'the prompt is empty and the vocabulary has no beginning-of-text token to start from', { what: '--prompt' });
      prompt = Int32Array.of(tok.bos);
    }
    const decode = decodeGraph(ck, o, io);
    if (o.backend !== 'interp') noteInterleavedCn4(decode, io);
    const runner = withStep(io, 'compile', compileStep(o.backend) ?? '', o.backend === 'interp', () => makeRunner(decode, o.backend, { threads: o.threads }));
    const random = new Prng(o.seed, 'ssmc run');
    const stream = tok.streamDecoder();
    const eos = o.ignoreEos ? undefined : tok.eos;
    const t0 = performance.now();
    let produced = 0;
    try {
      try {
        generate(runner, prompt, {
          maxTokens: o.maxTokens,
          temperature: o.temperature,
          random: () => random.float(),
          onToken: (id) => {
            if (id === eos) throw new Stop();
            produced++;
            const text = stream.push(id);
            if (text) io.out(text);
          },
        });
      } catch (e) {
        if (!(e instanceof Stop)) throw e;
      }
      const rest = stream.flush();
      if (rest) io.out(rest);
    } finally {
      runner.close();
    }
    if (io.isTTY) {
      const s = (performance.now() - t0) / 1000;
      io.err(`\n[${prompt.length} prompt tokens, ${produced} generated in ${s.toFixed(2)} s, ${(produced / Math.max(s, 1e-9)).toFixed(1)} tokens/s, ${o.backend}, ${tok.kind} tokenizer]\n`);
    }
  });
}
