// Conversion kernels and kernel launches per decoded token, per device table, for the
// 130m-shaped Mamba-1 decode graph: with and without fuse-ops, crossed with no layout
// pass (all buffers), the layout-unaware local baseline, and select-layout (min cut).
// Layout depends on shapes only, so the weights are zero-filled (no 500 MB synthesis).
// Usage: npx tsx bench/opencl/counts.ts [--shape 130m] [--out bench/opencl/counts.md]
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { Checkpoint } from '../../src/frontend/checkpoint.ts';
import { expectedTensors } from '../../src/frontend/checkpoint.ts';
import { buildMambaGraph } from '../../src/frontend/mamba-graph.ts';
import { synthConfig } from '../../src/frontend/synth.ts';
import type { Graph } from '../../src/ir/graph.ts';
import { getDevice, listDevices } from '../../src/passes/devices/index.ts';
import { PassManager } from '../../src/passes/index.ts';
import { conversionCount, irLayoutCost, launchCount } from '../../src/passes/layout/inspect.ts';
import { imageInfeasibility } from '../../src/passes/layout/capabilities.ts';
import { emitOpenCL } from '../../src/backends/opencl/emit.ts';
import { makeGraph } from '../../src/ir/graph.ts';

const { values } = parseArgs({ options: { shape: { type: 'string', default: '130m' }, out: { type: 'string', default: 'bench/opencl/counts.md' } } });
const shape = values.shape!;
const config = synthConfig(shape);
const ck: Checkpoint = {
  format: 'synthetic',
  config,
  tensors: new Map(expectedTensors(config).map(([name, sh]) => [name, { dtype: 'f32', shape: sh, data: new Float32Array(sh.reduce((a, b) => a * b, 1)) }])),
  source: `zeros:${shape}`,
};
const decode = buildMambaGraph(ck, { mode: 'decode' });
const run = (g: Graph, p: string) => (p ? new PassManager(p, { reproducerDir: false }).run(g).graph : g);

const LAYOUTS = [
  ['none (all buffer)', ''],
  ['local baseline', 'select-layout{device=D strategy=local}'],
  ['select-layout', 'select-layout{device=D}'],
] as const;

const rows: string[] = [];
const notes: string[] = [];
for (const device of listDevices()) {
  for (const fuse of [false, true]) {
    const base = run(decode, fuse ? 'fuse-ops' : '');
    let allBuffer = 0;
    for (const [label, step] of LAYOUTS) {
      const chosen = run(base, step.replace('D', device.name));
      const final = run(chosen, 'materialize-layout');
      const cost = irLayoutCost(chosen, device);
      if (!step) allBuffer = cost;
      const withLaunches = cost + device.launch * launchCount(final);
      rows.push(`| ${device.name} | ${fuse ? 'yes' : 'no'} | ${label} | ${launchCount(final)} | ${conversionCount(final)} | ${(cost / 1e6).toFixed(1)} | ${(cost / allBuffer).toFixed(3)} | ${(withLaunches / 1e6).toFixed(1)} |`);
      if (fuse && step && !step.includes('local')) {
        const bufs = final.weights.filter((w) => w.type.memory !== 'image2d').map((w) => w.name);
        const why = [...new Set(bufs.map((n) => imageInfeasibility(final.weights.find((w) => w.name === n)!.type, getDevice(device.name)) ?? 'chosen'))];
        const images = final.nodes.flatMap((n) => n.outputs).filter((o) => o.type.memory === 'image2d').length;
        notes.push(`- ${device.name}: ${final.weights.length - bufs.length}/${final.weights.length} weights and ${images}/${final.nodes.flatMap((n) => n.outputs).length} kernel results are images; buffer weights: ${bufs.length > 6 ? `${bufs.length} (${why.join('; ')})` : bufs.join(', ') || 'none'}${bufs.length && bufs.length <= 6 ? ` (${why.join('; ')})` : ''}.`);
      }
    }
  }
}

// What the OpenCL backend itself launches (emitOpenCL: one kernel per fused group: splits
// and dense-table embeddings read as views, elementwise ops folded into their producer's
// store or inlined into their reader's load, mem.* of weights done at upload),
// and the weight bytes a decode step reads by memory kind, dense and with every layer
// matrix at 2:4 (zero weights satisfy any C_n^4 pattern; the tied head stays dense, as
// sparsify-cn4's default layers leave it).
const log = (m: string) => process.stderr.write(`${m}\n`);
const sparse24 = (g: Graph): Graph =>
  makeGraph({ ...g, weights: g.weights.map((w) => (w.type.shape.length === 2 && /\.(in_proj|x_proj|dt_proj|out_proj)$/.test(w.name) ? { ...w, type: { ...w.type, cn4: Array(w.type.shape[0]).fill(2) } } : w)) });
const mib = (b: number) => (b / 2 ** 20).toFixed(1);
const backendRows: string[] = [];
const readBy = new Map<string, Record<'buffer' | 'image2d', number>>();
const backendCases: Array<[string, string, string]> = [
  ['-', 'no', ''],
  ['-', 'yes', 'fuse-ops'],
  ...listDevices().map((d): [string, string, string] => [d.name, 'yes', `fuse-ops,select-layout{device=${d.name}},materialize-layout`]),
];
for (const [device, fused, pipeline] of backendCases) {
  for (const weights of ['dense', '2:4'] as const) {
    log(`emit ${device} ${fused} ${weights}`);
    const g = run(weights === 'dense' ? decode : sparse24(decode), pipeline);
    const m = emitOpenCL(g).manifest;
    const kinds = m.decodeWeightBytesByKind;
    readBy.set(`${device}|${fused}|${weights}`, kinds);
    backendRows.push(`| ${device} | ${fused} | ${pipeline.includes('select') ? 'select-layout' : 'none (all buffer)'} | ${weights} | ${m.decodeLaunches} | ${launchCount(g)} | ${m.decodeConversions} | ${m.matvecWorkGroups.join(', ')} (${m.device}) | ${mib(kinds.buffer)} | ${mib(kinds.image2d)} | ${mib(m.decodeWeightBytes)} |`);
  }
}

// Everything but the head, dense against 2:4, in each kind: buffers on mali (all
// buffer), images on adreno (the head, a buffer on both, is the same in both rows).
const head = readBy.get('adreno|yes|dense')!.buffer;
const ratio = (kind: 'buffer' | 'image2d', device: string) => {
  const d = readBy.get(`${device}|yes|dense`)![kind] - (kind === 'buffer' ? head : 0);
  const sp = readBy.get(`${device}|yes|2:4`)![kind] - (kind === 'buffer' ? head : 0);
  return `${mib(sp)} / ${mib(d)} MiB = ${(sp / d).toFixed(3)}`;
};
const summary = `Weights other than the head (layer matrices, plus norms, conv, A, D and biases, which stay dense), 2:4 against dense, per token: from buffers (mali) ${ratio('buffer', 'mali')}; from images (adreno) ${ratio('image2d', 'adreno')}. A 2:4 matrix is 2 kept values of 4 plus a 4-bit code per group, 8.5 / 16 = 0.531 of its f32 bytes, in either kind; the small dense weights make the rest.`;

const L = config.nLayer;
const text = `# OpenCL layout: conversion kernels and launches per decoded token

Command: \`npx tsx bench/opencl/counts.ts --shape ${shape}\`

Graph: the ${shape}-shaped Mamba-1 decode step (d_model ${config.dModel}, ${L} layers, vocab ${config.vocabSize},
d_inner ${config.dInner}, d_state ${config.dState}, dt_rank ${config.dtRank}, tied head), f32 weights. Layout decisions
depend on shapes, not on values, so the weights are zero-filled instead of synthesised.

- launches: top-level nodes after \`materialize-layout\` (a fused group is one kernel;
  conversions included), per token.
- conversions: \`mem.to_image\` / \`mem.to_buffer\` kernels per token.
- model cost: the select-layout cost (src/passes/layout/problem.ts: reads, writes,
  conversions) in the device table's relative units (1 = reading one byte from a buffer
  on that device), in millions; "vs all-buffer" divides by the all-buffer layout of the
  same graph; "+ launches" adds the table's per-launch cost for every kernel.
  These are estimates from relative costs argued from vendor guides, not measurements;
  compare rows of one device only.
- none: no layout pass, the backend's default (every tensor a buffer).
- local baseline: each producer writes its cheapest kind and each kernel reads its
  cheapest kind, chosen independently; conversions wherever they differ.
- select-layout: the exact minimum of the same cost (s-t minimum cut).

| device | fuse-ops | layout | launches | conversions | model cost (M) | vs all-buffer | + launches (M) |
|---|---|---|---|---|---|---|---|
${rows.join('\n')}

Without fusion a layer is 16 kernels, with fuse-ops 7 (${7 * L + 2} per token with the
embedding, final norm and head). select-layout leaves no conversion on any table: on
Adreno every tensor that can be an image and whose kernels gain from it becomes one,
written as an image by its producer, so readers never disagree with writers; state
and the graph interface stay buffers and every kernel can read a buffer, so nothing
forces a conversion. The local baseline on Adreno writes buffers (cheaper to write) that
matvecs then want as images: a conversion in front of almost every kernel. On Mali and
the generic table images never pay, so every layout is all-buffer.

Per table, after fuse-ops + select-layout:
${notes.join('\n')}

## What the OpenCL backend launches, and the weight bytes it reads

The counts above are IR kernels. The backend (\`emitOpenCL\`) flattens fused groups and
re-forms kernels from op classes, so that each fused group is one generated kernel:
an elementwise op whose input comes from the kernel just computed is folded into that
kernel's store (conv+silu, dt_proj+softplus, scan+add+mul, out_proj+residual); an
elementwise op read element by element by one reader is inlined into the reader's load
(x*D and silu(z) inside the scan's store); splits are views, read in place (in_proj's
x | z, x_proj's dt | B | C); an embedding is a view of the table's rows (dense, or
C_n^4 decoded where read), read by the first norm and the first residual add. A layer
is 7 launches (it was 14: 2 + 3 split kernels, x*D and silu(z) on their own; the
embedding one more: ${14 * L + 3} a token), and a token ${7 * L + 2}, the IR's count
after fuse-ops (the backend finds the same kernels when fuse-ops did not run: the rows
with "no"). Conversions of weights are done once at upload. The
same zero-filled ${shape} graph, f32; "2:4": every
layer matrix (in_proj, x_proj, dt_proj, out_proj) C_n^4 with n = 2, the tied head dense.
Weight bytes are what one decode step reads (manifest \`decodeWeightBytesByKind\`): a
buffer its packed bytes, a dense image its texels, a C_n^4 image its compact texels
(kept values only) plus codes; the embedding one row. Matvec work-groups: the sizes
the kernels reduce with (0 = one work item per 4 rows), from the named device table
(\`generic\` when select-layout did not run).

| device | fuse-ops | layout | weights | launches per token | IR kernels | conversions | matvec work-groups | MiB read from buffers | MiB read from images | MiB total |
|---|---|---|---|---:|---:|---:|---|---:|---:|---:|
${backendRows.join('\n')}

${summary}
`;
writeFileSync(values.out!, text);
