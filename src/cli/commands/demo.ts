// The main job (`npm start`): the embedded trained model end to end — prune, compile,
// verify, measure — printed as a short table and written as report.json + report.md,
// with pictures beside it (sparsity chart, a fused layer, the whole graph) that
// report.md shows.
import type { Command } from 'commander';
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_PIPELINE, runMainJob } from '../../report/main-job.ts';
import { mainJobPictures } from '../../report/pictures.ts';
import { renderMarkdown, renderText } from '../../report/render.ts';
import { writeFileAtomic } from '../../util/atomic-write.ts';
import { describeMachine } from '../../util/machine.ts';
import type { CliIO } from '../io.ts';
import { intArg, printJson } from '../io.ts';
import { progressBar } from '../progress.ts';

export const DEFAULT_MODEL = resolve(dirname(fileURLToPath(import.meta.url)), '../../../models/mamba-shakespeare-s');

interface DemoOpts {
  model: string;
  out: string;
  pipeline: string;
  calibTokens: number;
  maxBytes?: number;
  prompt: string;
  tokens: number;
  json?: boolean;
}

export function registerDemo(program: Command, io: CliIO): Command {
  return program
    .command('demo')
    .description('the main job on the embedded trained model: prune, compile, verify against the interpreter, measure; writes report.json and report.md')
    .option('--model <dir>', 'model folder with heldout.txt and calib.txt beside the weights', DEFAULT_MODEL)
    .option('-o, --out <dir>', 'folder for report.json, report.md and its pictures (*.svg)', 'ssmc-out')
    .option('--pipeline <passes>', 'the sparsification pipeline', DEFAULT_PIPELINE)
    .option('--calib-tokens <n>', 'calibration bytes of calib.txt', intArg(1), 8192)
    .option('--max-bytes <n>', 'held-out bytes to score (default: all)', intArg(2))
    .option('--prompt <text>', 'prompt to continue', 'ROMEO:\n')
    .option('-n, --tokens <n>', 'bytes to generate', intArg(1, 100000), 200)
    .option('--json', 'print the report as JSON')
    .action(async (o: DemoOpts) => {
      const bar = progressBar(io, 'main job', o.json);
      let stage = '';
      const { report, sparseLaidOut } = runMainJob({
        model: o.model,
        pipeline: o.pipeline,
        calibTokens: o.calibTokens,
        heldoutBytes: o.maxBytes,
        prompt: o.prompt.replace(/\\n/g, '\n'),
        generateTokens: o.tokens,
        onProgress: (s, done, total) => {
          if (s !== stage) bar.done();
          stage = s;
          bar.update(done, total, s);
        },
      });
      bar.done();
      const pictures = await mainJobPictures(report, sparseLaidOut);
      const files = [pictures.sparsity, pictures.layer, pictures.graph].filter((p) => p !== undefined);
      mkdirSync(o.out, { recursive: true });
      // Pictures first: report.md never points at a file that is not there yet.
      for (const p of files) writeFileAtomic(join(o.out, p.file), p.svg);
      writeFileAtomic(join(o.out, 'report.json'), `${JSON.stringify(report, null, 2)}\n`);
      writeFileAtomic(join(o.out, 'report.md'), renderMarkdown(report, describeMachine(), pictures));
      if (o.json) return printJson(io, report);
      io.out(renderText(report));
      io.out(`\nwrote ${join(o.out, 'report.json')} and ${join(o.out, 'report.md')} (pictures: ${files.map((p) => p.file).join(', ')})\n`);
    });
}
