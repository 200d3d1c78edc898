// Interpreter decode speed and peak memory on a synthetic model (for the record: the
// interpreter defines meaning; speed comes from the backends).
// Usage: npx tsx bench/interp/run.ts [--shape 130m] [--tokens 8] [--out bench/interp/results.md]
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { InterpRunner } from '../../src/backends/interp/runner.ts';
import { buildMambaGraph } from '../../src/frontend/mamba-graph.ts';
import { synthCheckpoint } from '../../src/frontend/synth.ts';
import { describeMachine } from '../../src/util/machine.ts';

const { values } = parseArgs({ options: { shape: { type: 'string', default: '130m' }, tokens: { type: 'string', default: '8' }, out: { type: 'string' } } });
const shape = values.shape!;
const n = Number(values.tokens);

const t0 = performance.now();
const ck = synthCheckpoint(shape, { seed: 0, dtype: 'f32' });
const graph = buildMambaGraph(ck, { mode: 'decode' });
const tBuild = (performance.now() - t0) / 1000;
const runner = new InterpRunner(graph);
runner.step(1); // warm-up: JIT, weight decoding
const t1 = performance.now();
for (let i = 0; i < n; i++) runner.step((i * 7919) % ck.config.vocabSize);
const secs = (performance.now() - t1) / 1000;
const peak = process.resourceUsage().maxRSS / 1024; // MiB

const row = `| ${shape} | ${n} | ${(n / secs).toFixed(2)} | ${((secs / n) * 1000).toFixed(0)} | ${peak.toFixed(0)} | ${tBuild.toFixed(1)} |`;
const text = `# Interpreter decode benchmark

Machine: ${describeMachine()}
Date: ${new Date().toISOString().slice(0, 10)}
Command: \`npx tsx bench/interp/run.ts --shape ${shape} --tokens ${n}\`

| shape | tokens | decode tokens/s | ms/token | peak RSS MiB | synth+graph s |
|---|---|---|---|---|---|
${row}

The interpreter accumulates every dot product in f64 in ascending order (it is the
definition of the ops, not a fast path); one thread.
`;
process.stdout.write(`${text}\n`);
if (values.out) writeFileSync(values.out, text);
