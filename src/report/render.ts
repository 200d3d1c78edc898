// The main job's report as a short text table (terminal) and as Markdown (report.md).
import type { MainJobReport } from './main-job.ts';

/** Pictures written beside report.md: file name (relative) and caption. */
export interface PictureRefs {
  readonly sparsity?: { readonly file: string; readonly caption: string };
  readonly layer?: { readonly file: string; readonly caption: string };
  readonly graph?: { readonly file: string; readonly caption: string };
}

const rows = (r: MainJobReport): Array<[string, string, string]> => [
  ['held-out bits per byte', r.dense.heldout_bits_per_byte.toFixed(4), r.sparse.heldout_bits_per_byte.toFixed(4)],
  ['decode tokens/s (C, 1 thread)', r.dense.decode_tokens_per_s.toFixed(0), r.sparse.decode_tokens_per_s.toFixed(0)],
  ['prefill tokens/s (C, 1 thread)', r.dense.prefill_tokens_per_s.toFixed(0), r.sparse.prefill_tokens_per_s.toFixed(0)],
  ['weight bytes read per token', r.dense.weight_bytes_per_token.toLocaleString('en-US'), r.sparse.weight_bytes_per_token.toLocaleString('en-US')],
  ['C vs interpreter, max |Δlogit|', r.dense.verify_max_abs.toExponential(2), r.sparse.verify_max_abs.toExponential(2)],
];

export function renderText(r: MainJobReport): string {
  const t = rows(r);
  const w0 = Math.max(...t.map((x) => x[0].length));
  const w1 = Math.max(5, ...t.map((x) => x[1].length));
  const lines = [
    `model     ${r.model.path} (${r.model.parameters.toLocaleString('en-US')} parameters)`,
    `pipeline  ${r.pipeline}  (${(100 * (r.sparsity?.sparsity ?? 0)).toFixed(1)}% of the pruned layers' weights, ${r.prune_seconds.toFixed(0)} s)`,
    `held-out  ${r.heldout_bytes} bytes, windows of 512; verification over ${r.verify_tokens} tokens`,
    '',
    `${''.padEnd(w0)}  ${'dense'.padStart(w1)}  sparse`,
    ...t.map(([k, a, b]) => `${k.padEnd(w0)}  ${a.padStart(w1)}  ${b}`),
    '',
    `dense continuation of ${JSON.stringify(r.prompt)}:`,
    indent(r.prompt + r.dense.continuation),
    `sparse continuation:`,
    indent(r.prompt + r.sparse.continuation),
    '',
    openclLine(r),
  ];
  return `${lines.join('\n')}\n`;
}

export function renderMarkdown(r: MainJobReport, machine: string, pictures: PictureRefs = {}): string {
  const t = rows(r);
  const layers = r.sparsity?.layers ?? [];
  const image = (p: { file: string; caption: string } | undefined) => (p ? [`![${mdText(p.caption)}](${p.file})`, '', `*${mdText(p.caption)}*`, ''] : []);
  return [
    '# ssmc main job',
    '',
    `Model: \`${r.model.path}\` (${r.model.parameters.toLocaleString('en-US')} parameters, d_model ${r.model.d_model}, ${r.model.n_layer} layers).`,
    `Pipeline: \`${r.pipeline}\`, pruned in ${r.prune_seconds.toFixed(1)} s.`,
    `Held-out: the first ${r.heldout_bytes} bytes of heldout.txt, windows of 512 from a zero state.`,
    `Backend: ${r.backend}. Machine: ${machine}.`,
    '',
    '| | dense | sparse |',
    '|---|---|---|',
    ...t.map(([k, a, b]) => `| ${k} | ${a} | ${b} |`),
    '',
    '## Continuations',
    '',
    '**dense**',
    '',
    fence(r.prompt + r.dense.continuation),
    '',
    '**sparse**',
    '',
    fence(r.prompt + r.sparse.continuation),
    '',
    '## Sparsity per matrix',
    '',
    '| matrix | rows | rows with n = 0 / 1 / 2 / 3 / 4 | sparsity |',
    '|---|---|---|---|',
    ...layers.map((l) => `| ${l.weight} | ${l.rows} | ${l.nHistogram.join(' / ')} | ${(100 * l.sparsity).toFixed(1)}% |`),
    '',
    ...image(pictures.sparsity),
    ...(pictures.layer || pictures.graph
      ? [
          '## Graph',
          '',
          'Clusters are fused kernels (fuse-ops); edge colours are the memory kinds select-layout chose (orange buffer, blue image2d); weights show their C\\_n^4 sparsity.',
          '',
          ...image(pictures.layer),
          ...(pictures.graph ? [`The whole graph: [${pictures.graph.file}](${pictures.graph.file}).`, ''] : []),
        ]
      : []),
    '## OpenCL',
    '',
    openclLine(r),
    '',
  ].join('\n');
}

/** Caption text safe inside Markdown image alt text and emphasis. */
function mdText(s: string): string {
  return s.replace(/[[\]*_`\\]/g, (c) => `\\${c}`);
}

function indent(s: string): string {
  return s
    .split('\n')
    .map((l) => `    ${l}`)
    .join('\n');
}

function fence(s: string): string {
  return ['```text', s, '```'].join('\n');
}

function openclLine(r: MainJobReport): string {
  const o = r.opencl;
  if ('skipped' in o) return `OpenCL: not run (${o.skipped})`;
  return (
    `OpenCL (${o.device} layout, ${o.platform_note}): conversions per token dense ${o.conversions.dense}, sparse ${o.conversions.sparse}; ` +
    `max |Δlogit| vs interpreter dense ${o.verify_max_abs.dense.toExponential(2)}, sparse ${o.verify_max_abs.sparse.toExponential(2)}`
  );
}
