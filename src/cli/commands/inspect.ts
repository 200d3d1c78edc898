import type { Command } from 'commander';
import { parameterCount } from '../../frontend/checkpoint.ts';
import type { CliIO } from '../io.ts';
import { printJson } from '../io.ts';
import { loadModel } from '../model.ts';

export function registerInspect(program: Command, io: CliIO): Command {
  return program
    .command('inspect')
    .description('show a model\'s format, configuration, parameter count and tensors')
    .argument('<model>', 'HF folder, .safetensors file or .gguf file')
    .option('--json', 'print JSON')
    .action((model: string, o: { json?: boolean }) => {
      const ck = loadModel(model);
      const c = ck.config;
      const tensors = [...ck.tensors].map(([name, t]) => ({ name, dtype: t.dtype, shape: [...t.shape] }));
      const info = {
        path: ck.source,
        format: ck.format,
        config: {
          d_model: c.dModel,
          n_layer: c.nLayer,
          vocab_size: c.vocabSize,
          d_state: c.dState,
          d_conv: c.dConv,
          expand: c.expand,
          d_inner: c.dInner,
          dt_rank: c.dtRank,
          norm_eps: c.normEps,
          tied_head: c.tiedHead,
          conv_bias: c.convBias,
          proj_bias: c.projBias,
        },
        parameters: parameterCount(c),
        tokenizer: ck.tokenizer?.kind ?? null,
        tensors,
      };
      if (o.json) return printJson(io, info);
      io.out(`${info.path}\n  format      ${info.format}\n  parameters  ${info.parameters.toLocaleString('en-US')}\n`);
      for (const [k, v] of Object.entries(info.config)) io.out(`  ${k.padEnd(11)} ${v}\n`);
      io.out(`  tokenizer   ${info.tokenizer ?? 'none (byte-level only)'}\n  tensors     ${tensors.length}\n`);
      const w = Math.max(...tensors.map((t) => t.name.length));
      for (const t of tensors) io.out(`    ${t.name.padEnd(w)}  ${t.dtype.padEnd(4)} [${t.shape.join(', ')}]\n`);
    });
}
