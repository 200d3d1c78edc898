import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { SsmcError } from '../../errors.ts';
import { evaluateTokens } from '../../eval/perplexity.ts';
import type { CliIO } from '../io.ts';
import { choiceArg, intArg, printJson } from '../io.ts';
import type { BackendName } from '../model.ts';
import { BACKENDS, decodeGraph, loadModel, makeRunner } from '../model.ts';
import type { PipelineFlags } from '../pipeline-flags.ts';
import { addPipelineFlags, noteInterleavedCn4 } from '../pipeline-flags.ts';
import { compileStep, progressBar, withStep } from '../progress.ts';

export function registerEval(program: Command, io: CliIO): Command {
  const cmd = program
    .command('eval')
    .description('held-out negative log-likelihood of a text (byte-level models): windows of W tokens, each from a zero state')
    .argument('<model>', 'HF folder, .safetensors file or .gguf file')
    .requiredOption('--text <file>', 'text to score')
    .option('--window <W>', 'tokens per window', intArg(1, 1 << 20), 512)
    .option('--max-bytes <N>', 'score only the first N bytes', intArg(2))
    .option('--backend <name>', `execution backend (${BACKENDS.join(', ')})`, choiceArg(BACKENDS), 'interp')
    .option('--threads <n>', 'threads of a native backend', intArg(1, 256))
    .option('--json', 'print JSON');
  return addPipelineFlags(cmd).action((model: string, o: PipelineFlags & { text: string; window: number; maxBytes?: number; backend: BackendName; threads?: number; json?: boolean }) => {
    const ck = loadModel(model);
    if (ck.config.vocabSize !== 256) {
      throw new SsmcError('E_UNSUPPORTED', `eval supports byte-level models (vocab 256) only for now; this model has vocab ${ck.config.vocabSize}`, { file: model });
    }
    let bytes: Uint8Array;
    try {
      bytes = readFileSync(o.text);
    } catch (e) {
      throw new SsmcError('E_IO', `cannot read: ${(e as Error).message}`, { file: o.text });
    }
    if (o.maxBytes !== undefined) bytes = bytes.subarray(0, o.maxBytes);
    const decode = decodeGraph(ck, o, io);
    if (o.backend !== 'interp') noteInterleavedCn4(decode, io);
    const runner = withStep(io, 'compile', compileStep(o.backend) ?? '', o.json || o.backend === 'interp', () => makeRunner(decode, o.backend, { threads: o.threads }));
    const bar = progressBar(io, 'eval', o.json);
    try {
      const r = evaluateTokens(runner, Int32Array.from(bytes), { window: o.window, onProgress: bar.update });
      bar.done();
      if (o.json) return printJson(io, r);
      io.out(`scored tokens   ${r.tokens}\nnll (nats/tok)  ${r.nll.toFixed(6)}\nbits per token  ${r.bits_per_token.toFixed(6)}\nperplexity      ${r.perplexity.toFixed(4)}\n`);
    } finally {
      bar.done();
      runner.close();
    }
  });
}
