// Decode benchmark of the C backend on the 130m synthetic model against the machine's
// read bandwidth and llama.cpp (issue 4). Everything is measured in one run,
// interleaved: every repetition measures the bandwidth, every C case and llama.cpp at
// each thread count in turn, so that the noise of a shared machine spreads over all
// of them; medians are reported with the load average.
// Usage: npx tsx bench/decode/run.ts [--reps 5] [--tokens 48] [--threads 1,2]
//                                    [--out bench/decode/results.md] [--work DIR]
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { benchC } from '../../src/backends/c/bench.ts';
import { compileCached } from '../../src/backends/c/compile.ts';
import { buildMambaGraph } from '../../src/frontend/mamba-graph.ts';
import { synthCheckpoint, writeSynthModel } from '../../src/frontend/synth.ts';
import { buildBandwidth, measureBandwidth } from './bandwidth.ts';
import { makeCases, sparsityOf } from './cases.ts';
import { openLlama } from './llama.ts';
import { writeReport, type Measured } from './report.ts';

const { values } = parseArgs({
  options: {
    reps: { type: 'string', default: '5' },
    tokens: { type: 'string', default: '48' },
    threads: { type: 'string', default: '1,2' },
    only: { type: 'string' },
    out: { type: 'string', default: join(import.meta.dirname, 'results.md') },
    work: { type: 'string', default: join(tmpdir(), 'ssmc-bench-decode') },
  },
});
const reps = Number(values.reps);
const tokens = Number(values.tokens);
const threadCounts = values.threads!.split(',').map(Number);
const work = values.work!;
mkdirSync(work, { recursive: true });
const log = (s: string) => process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${s}\n`);
const started = new Date();
const loads: number[][] = [loadavg()];

log('synthetic 130m, cases');
const base = buildMambaGraph(synthCheckpoint('130m', { seed: 0, dtype: 'f32' }), { mode: 'decode' });
const cases = makeCases(base, values.only?.split(';'));
const built = cases.map((c) => {
  log(`build ${c.name}`);
  const { dir, manifest } = compileCached(c.graph, { cacheDir: work, build: { opt: '-O3', cflags: ['-march=native'] } });
  return { ...c, dir, bytes: manifest.decodeWeightBytes, sparsity: sparsityOf(c.graph) };
});
const gguf = Object.fromEntries((['f32', 'f16'] as const).map((d) => [d, writeSynthModel('130m', join(work, `synth-130m-${d}.gguf`), { seed: 0, format: 'gguf', dtype: d })]));
const bwExe = buildBandwidth(work);
const llama = await openLlama();

const m: Measured = { cases: built.map(({ name, dtype, dense, bytes, sparsity, pipeline }) => ({ name, dtype, dense, bytes, sparsity, pipeline })), decode: {}, prefill: {}, prefillLast: {}, bandwidth: {}, llama: {} };
const push = (rec: Record<string, number[]>, key: string, v: number) => (rec[key] ??= []).push(v);
for (let rep = 0; rep < reps; rep++) {
  for (const T of threadCounts) {
    log(`rep ${rep + 1}/${reps}, ${T} thread(s), load ${loadavg()[0].toFixed(2)}`);
    push(m.bandwidth, String(T), measureBandwidth(bwExe, T).best_gbps);
    // Rotate the order each repetition so that no case always follows the same neighbour.
    const order = built.map((_, i) => built[(i + rep) % built.length]);
    for (const c of order) {
      const r = benchC(c.dir, { threads: T, tokens, prefill: rep === 0 ? 512 : 0 });
      push(m.decode, `${c.name}|${T}`, r.decode_tokens_per_s);
      if (rep === 0) {
        push(m.prefill, `${c.name}|${T}`, r.prefill_tokens_per_s);
        push(m.prefillLast!, `${c.name}|${T}`, r.prefill_last_tokens_per_s);
      }
    }
    for (const d of ['f32', 'f16'] as const) push(m.llama, `${d}|${T}`, await llama.decode(gguf[d], T, tokens));
  }
  loads.push(loadavg());
}
await llama.dispose();
writeFileSync(join(work, 'measured.json'), JSON.stringify({ m, loads }));
writeReport(values.out!, { m, threadCounts, reps, tokens, loads, started, command: `npx tsx bench/decode/run.ts ${process.argv.slice(2).join(' ')}`.trim() });
log(`wrote ${values.out}`);
