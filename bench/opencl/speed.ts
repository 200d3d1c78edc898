// PoCL decode speed of the OpenCL backend, for the record. PoCL runs the kernels on
// this machine's CPU: the numbers say how the generated code and host runtime behave
// under a real OpenCL implementation, nothing about a phone GPU (Adreno, Mali).
// Cases: the trained fixture, and the synthetic 130m shape: dense f32 / f16 and 2:4 f16
// with the layer matrices in buffers or in images (C_n^4 ones as compact images; the
// tied 50280-row table stays a buffer: taller than the 16384 rows an image may have
// on phones), matvecs by work-group reductions (the generic table) or, for
// comparison, one work item per 4 rows.
// Usage: npx tsx bench/opencl/speed.ts [--tokens 16] [--reps 3] [--only fixture]
//                                      [--out bench/opencl/speed.md]
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { compileOpenCLCached } from '../../src/backends/opencl/compile.ts';
import { loadCheckpoint } from '../../src/frontend/load.ts';
import { buildMambaGraph } from '../../src/frontend/mamba-graph.ts';
import { synthCheckpoint } from '../../src/frontend/synth.ts';
import type { Graph } from '../../src/ir/graph.ts';
import { makeGraph } from '../../src/ir/graph.ts';
import { PassManager } from '../../src/passes/index.ts';

const { values } = parseArgs({
  options: {
    tokens: { type: 'string', default: '16' },
    reps: { type: 'string', default: '3' },
    only: { type: 'string' },
    out: { type: 'string', default: join(import.meta.dirname, 'speed.md') },
  },
});
const log = (s: string) => process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${s}\n`);

/** Layer matrices (not the tied table) typed image2d, as select-layout might for Adreno. */
function matricesAsImages(g: Graph): Graph {
  return makeGraph({ ...g, weights: g.weights.map((w) => (w.type.shape.length === 2 && w.name !== 'embedding' && w.type.shape[0] <= 16384 ? { ...w, type: { ...w.type, memory: 'image2d' as const } } : w)) });
}

const fixture = () => buildMambaGraph(loadCheckpoint(join(import.meta.dirname, '../../../shared/fixtures/mamba-shakespeare-s')), { mode: 'decode' });
const s130 = () => buildMambaGraph(synthCheckpoint('130m'), { mode: 'decode' });
const run = (g: Graph, p: string) => new PassManager(p).run(g).graph;
const SPARSE = 'sparsify-cn4{method=magnitude pattern=uniform n=2},reorder-weights,cast-weights{dtype=f16},fuse-ops';
const CASES: Array<{ name: string; make: () => Graph; wg?: number }> = [
  { name: 'fixture f32', make: () => run(fixture(), 'fuse-ops') },
  { name: 'fixture f16, matrices as images', make: () => matricesAsImages(run(fixture(), 'cast-weights{dtype=f16},fuse-ops')) },
  { name: '130m dense f32', make: () => run(s130(), 'fuse-ops') },
  { name: '130m dense f32, one item per 4 rows', make: () => run(s130(), 'fuse-ops'), wg: 0 },
  { name: '130m dense f16', make: () => run(s130(), 'cast-weights{dtype=f16},fuse-ops') },
  { name: '130m 2:4 f16, buffers', make: () => run(s130(), SPARSE) },
  { name: '130m 2:4 f16, buffers, one item per 4 rows', make: () => run(s130(), SPARSE), wg: 0 },
  { name: '130m dense f16, matrices as images', make: () => matricesAsImages(run(s130(), 'cast-weights{dtype=f16},fuse-ops')) },
  { name: '130m 2:4 f16, matrices as compact images', make: () => matricesAsImages(run(s130(), SPARSE)) },
];

const rows: string[] = [];
const load0 = loadavg()[0];
for (const c of CASES) {
  if (values.only && !c.name.includes(values.only)) continue;
  log(`${c.name}: compile`);
  const { dir, manifest } = compileOpenCLCached(c.make(), { cacheDir: join(tmpdir(), 'ssmc-bench-opencl'), ...(c.wg === undefined ? {} : { matvecWorkGroup: c.wg }) });
  const speeds: number[] = [];
  for (let i = 0; i < Number(values.reps); i++) {
    const r = spawnSync(join(dir, 'ssmc_driver'), ['bench', '--tokens', values.tokens!, '--prefill', '0'], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${c.name}: ${r.stderr}`);
    speeds.push((JSON.parse(r.stdout) as { decode_tokens_per_s: number }).decode_tokens_per_s);
    log(`${c.name}: ${speeds[speeds.length - 1].toFixed(2)} tokens/s`);
  }
  speeds.sort((a, b) => a - b);
  const med = speeds[speeds.length >> 1];
  const k = manifest.decodeWeightBytesByKind;
  rows.push(`| ${c.name} | ${med.toFixed(2)} | ${(k.buffer / 2 ** 20).toFixed(1)} | ${(k.image2d / 2 ** 20).toFixed(1)} | ${manifest.decodeLaunches} | ${manifest.matvecWorkGroups.join(', ')} | ${manifest.imageWeights.length} |`);
}

// The "## Reading" section is written by hand after looking at a run; a rerun keeps it
// (and whoever reruns checks that it still says what the new numbers say).
const old = existsSync(values.out!) ? readFileSync(values.out!, 'utf8') : '';
const reading = /\n## Reading[\s\S]*?(?=\nRegenerate:)/.exec(old)?.[0] ?? '';
writeFileSync(
  values.out!,
  `# OpenCL backend: PoCL decode speed (for the record)

**PoCL runs OpenCL on this machine's CPU.** These numbers show that the generated
kernels and the host runtime work under a real OpenCL implementation and what they
cost there; they say nothing about a phone GPU (Adreno, Mali), whose memory system,
texture path and driver are entirely different. Image-typed weights in particular
have no texture cache to win from on PoCL.

Machine: ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), shared with other work (load
average ${load0.toFixed(2)} at the start, ${loadavg()[0].toFixed(2)} at the end). PoCL's pthread device uses every core.
Median of ${values.reps} runs of \`ssmc_driver bench --tokens ${values.tokens} --prefill 0\`
(2 warm-up steps first). Graphs after \`fuse-ops\`; kernels: one per fused group
(specs/opencl-backend.md, "Kernels per fused group": splits and the embedding read as
views, elementwise ops folded into stores or inlined into loads), 7 launches a layer. Matvecs reduce with the work-group sizes listed (the
generic table: 64 at most, at least 8 texels per item; 0 = one work item per 4 rows);
other kernels use work-groups of 64. Weight MiB: what one decode step reads, by the
memory it reads from (C_n^4 images are compact: kept values and codes only).

| case | decode tokens/s | weight MiB from buffers | weight MiB from images | launches per token | matvec work-groups | weights in images |
|---|---:|---:|---:|---:|---|---:|
${rows.join('\n')}

On a CPU none of this predicts a GPU: images go through PoCL's software sampler (no
texture cache), work-group barriers become loops over the group's items, and bytes
matter less than PoCL's code for each kernel. On a phone GPU texture reads are cached
hardware paths and the byte savings of f16 and C_n^4 are the point.
${reading}
Regenerate: \`npx tsx bench/opencl/speed.ts\` (written ${new Date().toISOString().slice(0, 10)}).
`,
);
log(`wrote ${values.out}`);
