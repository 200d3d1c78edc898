import type { Command } from 'commander';
import { SsmcError } from '../../errors.ts';
import { writeFileAtomic } from '../../util/atomic-write.ts';
import type { CliIO } from '../io.ts';
import { choiceArg, intArg, intListArg } from '../io.ts';
import type { BackendName } from '../model.ts';
import { BACKENDS, decodeGraph, loadModel, makeRunner } from '../model.ts';
import type { PipelineFlags } from '../pipeline-flags.ts';
import { addPipelineFlags, noteInterleavedCn4 } from '../pipeline-flags.ts';
import { compileStep, withStep } from '../progress.ts';

export function registerLogits(program: Command, io: CliIO): Command {
  const cmd = program
    .command('logits')
    .description('run tokens one at a time from a zero state; write n_tokens x vocab little-endian f32 logits')
    .argument('<model>', 'HF folder, .safetensors file or .gguf file')
    .requiredOption('--tokens <ids>', 'comma-separated token ids', intListArg)
    .requiredOption('--out <file>', 'output file (raw f32, row-major)')
    .option('--backend <name>', `execution backend (${BACKENDS.join(', ')})`, choiceArg(BACKENDS), 'interp')
    .option('--threads <n>', 'threads of a native backend', intArg(1, 256));
  return addPipelineFlags(cmd).action((model: string, o: PipelineFlags & { tokens: number[]; out: string; backend: BackendName; threads?: number }) => {
    const ck = loadModel(model);
    const V = ck.config.vocabSize;
    o.tokens.forEach((t, i) => {
      if (t >= V) throw new SsmcError('E_TOKENS', `--tokens: token ${t} at position ${i} is outside the vocabulary [0, ${V})`);
    });
    const decode = decodeGraph(ck, o, io);
    if (o.backend !== 'interp') noteInterleavedCn4(decode, io);
    const runner = withStep(io, 'compile', compileStep(o.backend) ?? '', o.backend === 'interp', () => makeRunner(decode, o.backend, { threads: o.threads }));
    try {
      const out = new Float32Array(o.tokens.length * V);
      o.tokens.forEach((t, i) => out.set(runner.step(t), i * V));
      writeFileAtomic(o.out, littleEndianF32(out));
    } finally {
      runner.close();
    }
  });
}

export function littleEndianF32(a: Float32Array): Uint8Array {
  const bytes = new Uint8Array(a.length * 4);
  const dv = new DataView(bytes.buffer);
  for (let i = 0; i < a.length; i++) dv.setFloat32(i * 4, a[i], true);
  return bytes;
}
