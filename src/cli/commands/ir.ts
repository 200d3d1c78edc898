import type { Command } from 'commander';
import { buildMambaGraph } from '../../frontend/mamba-graph.ts';
import { printGraph } from '../../ir/text/index.ts';
import { writeFileAtomic } from '../../util/atomic-write.ts';
import type { CliIO } from '../io.ts';
import { choiceArg, intArg } from '../io.ts';
import { isIrFile, loadModel, readIrFile } from '../model.ts';

export function registerIr(program: Command, io: CliIO): Command {
  return program
    .command('ir')
    .description('print the text IR of a model (or re-print an IR file canonically)')
    .argument('<model>', 'model (HF folder, .safetensors, .gguf) or IR text file (.ir)')
    .option('--mode <mode>', 'decode (one token) or prefill (a sequence)', choiceArg(['decode', 'prefill'] as const), 'decode')
    .option('--seq-len <L>', 'sequence length of a prefill graph', intArg(1, 1 << 20), 16)
    .option('-o, --output <file>', 'write to a file instead of stdout')
    .action((model: string, o: { mode: 'decode' | 'prefill'; seqLen: number; output?: string }) => {
      const graph = isIrFile(model) ? readIrFile(model) : buildMambaGraph(loadModel(model), { mode: o.mode, seqLen: o.seqLen });
      const text = printGraph(graph);
      if (o.output) writeFileAtomic(o.output, text);
      else io.out(text);
    });
}
