// Accuracy of C_n^4 pruning on the trained fixtures: held-out bits per byte (windows of
// 512 from a zero state) for dense, magnitude / Wanda / SparseGPT (= obs uniform) at
// 1:4, 2:4, 3:4, and obs adaptive at 30/50/70% sparsity.
//
// Usage: npx tsx bench/accuracy/run.ts [--calib-tokens N] [--heldout-bytes N]
//        [--sens-tokens N] [--levels 0.3,0.5,0.7] [--out bench/accuracy/results.md]
import { readdirSync, readFileSync, existsSync, writeFileSync } from 'node:fs';
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
import { describeMachine } from '../../src/util/machine.ts';

const { values } = parseArgs({
  options: {
    'calib-tokens': { type: 'string' },
    'heldout-bytes': { type: 'string' },
    'sens-tokens': { type: 'string', default: '4096' },
    levels: { type: 'string', default: '0.3,0.5,0.7' },
    out: { type: 'string' },
  },
});
const fixturesDir = resolve(import.meta.dirname, '../../../shared/fixtures');
const levels = values.levels!.split(',').map(Number);
const sens = Number(values['sens-tokens']);

function bpb(graph: Graph, held: Int32Array): number {
  const runner = new InterpRunner(graph, { prefillGraph: (L) => liftToSequence(graph, L) });
  return evaluateTokens(runner, held, { window: 512 }).bits_per_token;
}

const lines: string[] = [];
const log = (s: string) => {
  process.stdout.write(`${s}\n`);
};
for (const name of readdirSync(fixturesDir)) {
  const dir = join(fixturesDir, name);
  if (!existsSync(join(dir, 'calib.txt'))) continue;
  const graph = buildMambaGraph(loadCheckpoint(dir), { mode: 'decode' });
  let calib = Int32Array.from(readFileSync(join(dir, 'calib.txt')));
  if (values['calib-tokens']) calib = calib.subarray(0, Number(values['calib-tokens']));
  let held = Int32Array.from(readFileSync(join(dir, 'heldout.txt')));
  const heldAll = held.length;
  if (values['heldout-bytes']) held = held.subarray(0, Number(values['heldout-bytes']));
  const dense = bpb(graph, held);
  log(`${name}: dense ${dense.toFixed(4)}`);
  const rows: string[] = [`| dense | 0% | ${dense.toFixed(4)} | – | – | – |`];
  for (const S of levels) {
    const n = Math.round(S * 4);
    const configs: [string, string][] = [
      [`magnitude ${n}:4`, `sparsify-cn4{method=magnitude n=${n}}`],
      [`wanda ${n}:4`, `sparsify-cn4{method=wanda n=${n}}`],
      [`SparseGPT ${n}:4`, `sparsify-cn4{method=obs n=${n}}`],
      [`obs adaptive`, `sparsify-cn4{method=obs sparsity=${S} sens-tokens=${sens}}`],
    ];
    // Uniform methods can only do multiples of 25%: they run at the nearest n.
    for (const [label, pipeline] of configs) {
      let report: SparsityReport | undefined;
      const t0 = performance.now();
      const pruned = new PassManager(pipeline).run(graph, { services: { calibration: { tokens: calib }, sparsityReport: (r: SparsityReport) => (report = r) } }).graph;
      const secs = (performance.now() - t0) / 1000;
      const b = bpb(pruned, held);
      const row = `| ${label} | ${(100 * report!.sparsity).toFixed(1)}% | ${b.toFixed(4)} | ${(b - dense >= 0 ? '+' : '') + (b - dense).toFixed(4)} (${((100 * (b - dense)) / dense).toFixed(2)}%) | ${secs.toFixed(0)} | \`${pipeline}\` |`;
      log(row);
      rows.push(row);
    }
  }
  lines.push(
    `## ${name}`,
    '',
    `Calibration: the first ${calib.length} bytes of calib.txt. Held-out: ${held.length === heldAll ? `all ${heldAll} bytes` : `the first ${held.length} of ${heldAll} bytes`} of heldout.txt, windows of 512 from a zero state, bits per byte.`,
    '',
    '| method | sparsity | bits/byte | vs dense | prune s | pipeline |',
    '|---|---|---|---|---|---|',
    ...rows,
    '',
  );
}

const text = `# Pruning accuracy (C_n^4)

Machine: ${describeMachine()}
Date: ${new Date().toISOString().slice(0, 10)}
Command: \`npx tsx bench/accuracy/run.ts ${process.argv.slice(2).join(' ')}\`

Uniform methods prune n of every 4 weights in every row of in_proj, x_proj, dt_proj and
out_proj (n:4 = n pruned of every 4: 1:4 = 25%, 2:4 = 50%, 3:4 = 75%); obs adaptive chooses n per row
with the sparse-learning allocator at the stated overall sparsity. Prune times include
calibration through the interpreter.

${lines.join('\n')}`;
if (values.out) writeFileSync(values.out, text);
