// Quick accuracy probe: held-out bits per byte of given pipelines on one fixture (for
// tuning the allocator; run.ts makes the full table).
//
// Usage: npx tsx bench/accuracy/quick.ts [--fixture mamba-shakespeare-s] [--calib-tokens N]
//        [--heldout-bytes N] [--dense] [--finetune 'sparse-finetune{...}']... PIPELINE...
// With --finetune, each pipeline's pruned model is evaluated, then fine-tuned by that
// pipeline (teacher: the dense model; calibration tokens only) and evaluated again.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { InterpRunner } from '../../src/backends/interp/runner.ts';
import { evaluateTokens } from '../../src/eval/perplexity.ts';
import { loadCheckpoint } from '../../src/frontend/load.ts';
import { buildMambaGraph } from '../../src/frontend/mamba-graph.ts';
import type { Graph } from '../../src/ir/graph.ts';
import { liftToSequence } from '../../src/ir/sequence.ts';
import { PassManager } from '../../src/passes/index.ts';
import type { SparsityReport } from '../../src/passes/sparsity/report.ts';
import type { FinetuneReport } from '../../src/passes/sparse-finetune.ts';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    fixture: { type: 'string', default: 'mamba-shakespeare-s' },
    'calib-tokens': { type: 'string' },
    'heldout-bytes': { type: 'string', default: '16384' },
    dense: { type: 'boolean', default: false },
    layers: { type: 'boolean', default: false },
    finetune: { type: 'string', multiple: true },
  },
});
const dir = resolve(import.meta.dirname, '../../../shared/fixtures', values.fixture!);
const graph = buildMambaGraph(loadCheckpoint(dir), { mode: 'decode' });
let calib = Int32Array.from(readFileSync(join(dir, 'calib.txt')));
if (values['calib-tokens']) calib = calib.subarray(0, Number(values['calib-tokens']));
const heldAll = Int32Array.from(readFileSync(join(dir, 'heldout.txt')));
// Comma-separated slices (bytes from the start, or `all`), each evaluated.
const slices = values['heldout-bytes']!.split(',').map((b) => (b === 'all' ? heldAll : heldAll.subarray(0, Number(b))));

function bpb(g: Graph): string {
  const runner = new InterpRunner(g, { prefillGraph: (L) => liftToSequence(g, L) });
  return slices.map((held) => `${held.length}: ${evaluateTokens(runner, held, { window: 512 }).bits_per_token.toFixed(4)}`).join(', ');
}
if (values.dense) console.log(`dense bpb ${bpb(graph)}`);
for (const p of positionals) {
  let report: SparsityReport | undefined;
  const t0 = performance.now();
  const pruned = new PassManager(p).run(graph, { services: { calibration: { tokens: calib }, sparsityReport: (r: SparsityReport) => (report = r) } }).graph;
  const secs = (performance.now() - t0) / 1000;
  const b = bpb(pruned);
  console.log(`${p}: sparsity ${(100 * report!.sparsity).toFixed(2)}% bpb ${b} prune ${secs.toFixed(0)} s${report!.calibrationLoss ? ` calib loss ${report!.calibrationLoss.dense.toFixed(4)} -> ${report!.calibrationLoss.pruned.toFixed(4)}` : ''}`);
  for (const f of values.finetune ?? []) {
    let ft: FinetuneReport | undefined;
    const tuned = new PassManager(f).run(pruned, { services: { calibration: { tokens: calib }, teacher: { graph }, sparseFinetuneReport: (r: FinetuneReport) => (ft = r) } }).graph;
    console.log(`${p},${f}: bpb ${bpb(tuned)} fine-tune ${ft!.seconds.toFixed(0)} s (${ft!.steps} steps × ${ft!.window} tokens, ${ft!.windows} windows) train KL ${ft!.klStart.toFixed(4)} -> ${ft!.klEnd.toFixed(4)}`);
  }
  if (values.layers) for (const l of report!.layers) console.log(`  ${l.weight.padEnd(12)} ${(100 * l.sparsity).toFixed(1).padStart(5)}% [${l.nHistogram.join(',')}]${l.sensitivity !== undefined ? ` sens ${l.sensitivity.toExponential(2)}` : ''}`);
}
