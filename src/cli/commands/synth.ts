import type { Command } from 'commander';
import { SHAPES, writeSynthModel } from '../../frontend/synth.ts';
import type { CliIO } from '../io.ts';
import { choiceArg, intArg } from '../io.ts';

export function registerSynth(program: Command, io: CliIO): Command {
  const shapes = Object.keys(SHAPES);
  return program
    .command('synth')
    .description('write a synthetic Mamba model with real initialisation, deterministic from a seed')
    .requiredOption('--shape <shape>', `one of ${shapes.join(', ')}`, choiceArg(shapes))
    .option('--seed <n>', 'random seed', intArg(0, 2 ** 32 - 1), 0)
    .option('--dtype <dtype>', 'storage dtype of the weights', choiceArg(['f32', 'f16'] as const), 'f32')
    .option('--format <format>', 'hf (config.json + safetensors folder) or gguf (a llama.cpp file)', choiceArg(['hf', 'gguf'] as const), 'hf')
    .requiredOption('-o, --output <path>', 'output folder (hf) or file (gguf)')
    .action((o: { shape: string; seed: number; dtype: 'f32' | 'f16'; format: 'hf' | 'gguf'; output: string }) => {
      writeSynthModel(o.shape, o.output, { seed: o.seed, dtype: o.dtype, format: o.format });
      io.out(`wrote ${o.format === 'hf' ? 'HF folder' : 'GGUF file'} ${o.output} (${o.shape}, ${o.dtype}, seed ${o.seed})\n`);
    });
}
