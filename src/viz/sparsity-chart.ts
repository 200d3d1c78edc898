// The per-layer sparsity chart `ssmc prune` writes beside the pruned model (and the main
// job's report shows), as hand-written SVG: no dependency, and the same report always
// gives the same bytes (fixed layout, numbers at fixed precision, no dates or ids).
//
// Top panel: per layer, one bar per projection (in_proj, x_proj, dt_proj, out_proj, ...)
// with the fraction of the matrix's weights pruned; a dashed line marks the overall
// figure. Bottom panel: one stacked bar per matrix with the share of its rows that have
// n = 0..4 weights pruned per group of 4 (the C_n^4 pattern the allocator chose).
//
// For tools and tests the marks carry their data: the plot areas are
// `rect#plot-sparsity` / `rect#plot-rows`, a sparsity bar is `rect.bar[data-weight]`
// (height / plot height = sparsity), a row-share segment is `rect.seg[data-weight][data-n]`
// (width / plot width = share of rows), the overall line is `line#overall`.
import type { LayerReport, SparsityReport } from '../passes/sparsity/report.ts';
import { categoryColors, N_COLORS } from './palette.ts';
import { el, text, tooltip } from './svg-build.ts';
import { percent, xmlEscape } from './text.ts';

/** What the chart needs: the structural report, plus how it was made when known. */
export type ChartReport = Pick<SparsityReport, 'sparsity' | 'layers'> & Partial<Pick<SparsityReport, 'method' | 'pattern' | 'target'>>;

export interface ChartOptions {
  /** Main title (default: "C_n^4 sparsity per layer"). */
  readonly title?: string;
}

const FONT = 'Helvetica, Arial, sans-serif';
const MARGIN = 16;
const AXIS_W = 44; // room for the y tick labels
const BAR_W = 12;
const BAR_GAP = 2;
const GROUP_GAP = 14;
const PLOT_A_H = 200;
const ROW_H = 12;
const ROW_GAP = 4;
/** Approximate width of one character of 10px Helvetica, for the label column. */
const CHAR_W = 6;
const MIN_WIDTH = 780;
/** Room right of each row-share bar for "512 rows, 50.0%". */
const RIGHT_NOTE_W = 110;
const N_NAMES = ['n=0 (dense row)', 'n=1 (1:4)', 'n=2 (2:4)', 'n=3 (3:4)', 'n=4 (row pruned)'];

interface Group {
  readonly label: string;
  readonly layers: readonly LayerReport[];
}

/** Layers `lN.kind` grouped by N (ascending); matrices outside any layer each form their own group. */
function groupByLayer(layers: readonly LayerReport[]): Group[] {
  const numbered = new Map<number, LayerReport[]>();
  const others: Group[] = [];
  for (const l of layers) {
    const m = /^l(\d+)\./.exec(l.weight);
    if (!m) {
      others.push({ label: l.weight, layers: [l] });
      continue;
    }
    const k = Number(m[1]);
    numbered.set(k, [...(numbered.get(k) ?? []), l]);
  }
  const byNumber = [...numbered.entries()].sort((a, b) => a[0] - b[0]).map(([k, ls]) => ({ label: String(k), layers: ls }));
  return [...byNumber, ...others];
}

function subtitle(r: ChartReport): string {
  const how = [r.method && `method ${r.method}`, r.pattern && `pattern ${r.pattern}`, r.target && `target ${r.target}`].filter(Boolean).join(', ');
  const overall = `${percent(r.sparsity)} of the weights of ${r.layers.length} pruned matrices`;
  return how ? `${how}: ${overall}` : overall;
}

export function sparsityChartSvg(report: ChartReport, options: ChartOptions = {}): string {
  const layers = report.layers;
  const groups = groupByLayer(layers);
  const kinds = [...new Set(layers.map((l) => l.kind))];
  const kindColor = categoryColors(kinds);
  const slots = Math.max(1, kinds.length);
  const groupW = slots * (BAR_W + BAR_GAP) - BAR_GAP;
  const labelW = Math.max(90, 12 + CHAR_W * Math.max(0, ...layers.map((l) => l.weight.length)));
  // Wide enough for the titles and legends, and for every layer's bars side by side.
  const width = Math.max(MIN_WIDTH, 2 * MARGIN + AXIS_W + groups.length * (groupW + GROUP_GAP) + GROUP_GAP);
  const plotAW = width - 2 * MARGIN - AXIS_W;
  const groupStep = groups.length ? (plotAW - GROUP_GAP) / groups.length : plotAW;
  const plotBW = width - 2 * MARGIN - labelW - RIGHT_NOTE_W;

  const out: string[] = [];
  let y = 28;
  const title = options.title ?? 'C_n^4 sparsity per layer';
  out.push(text(MARGIN, y, title, { 'font-size': 16, 'font-weight': 'bold' }));
  y += 18;
  out.push(text(MARGIN, y, subtitle(report), { 'font-size': 11, fill: '#444444' }));
  y += 30;

  if (layers.length === 0) {
    out.push(text(MARGIN, y, 'no C_n^4 sparse matrices in this model', { 'font-size': 12 }));
    return wrap(width, y + 20, title, report, out);
  }

  // --- panel A: sparsity per layer and projection -------------------------------------
  out.push(text(MARGIN, y, "Sparsity per layer and projection (% of the matrix's weights pruned)", { 'font-size': 13, 'font-weight': 'bold' }));
  y += 16;
  let lx = MARGIN + AXIS_W;
  for (const k of kinds) {
    out.push(el('rect', { x: lx, y: y - 9, width: 10, height: 10, fill: kindColor.get(k) }));
    out.push(text(lx + 14, y, k, { 'font-size': 11 }));
    lx += 14 + CHAR_W * 1.1 * k.length + 16;
  }
  out.push(el('line', { x1: lx, y1: y - 4, x2: lx + 22, y2: y - 4, stroke: '#000000', 'stroke-dasharray': '5 3' }));
  out.push(text(lx + 26, y, `overall ${percent(report.sparsity)}`, { 'font-size': 11 }));
  y += 16;
  const ax = MARGIN + AXIS_W;
  const ay = y;
  const base = ay + PLOT_A_H;
  out.push(el('rect', { id: 'plot-sparsity', class: 'plot', x: ax, y: ay, width: plotAW, height: PLOT_A_H, fill: '#fbfbfb', stroke: '#cccccc' }));
  for (const t of [0, 0.25, 0.5, 0.75, 1]) {
    const ty = base - t * PLOT_A_H;
    out.push(el('line', { x1: ax, y1: ty, x2: ax + plotAW, y2: ty, stroke: '#e3e3e3' }));
    out.push(text(ax - 6, ty + 4, `${Math.round(t * 100)}%`, { 'font-size': 10, 'text-anchor': 'end', fill: '#444444' }));
  }
  groups.forEach((g, gi) => {
    const gx = ax + GROUP_GAP / 2 + gi * groupStep + (groupStep - groupW) / 2;
    for (const l of g.layers) {
      const slot = kinds.indexOf(l.kind);
      const h = l.sparsity * PLOT_A_H;
      out.push(
        el(
          'rect',
          { class: 'bar', 'data-weight': l.weight, x: gx + slot * (BAR_W + BAR_GAP), y: base - h, width: BAR_W, height: h, fill: kindColor.get(l.kind) },
          tooltip(`${l.weight}: ${percent(l.sparsity)} pruned (${l.rows} x ${l.cols})`),
        ),
      );
    }
    out.push(text(gx + groupW / 2, base + 14, g.label, { 'font-size': 10, 'text-anchor': 'middle' }));
  });
  out.push(el('line', { x1: ax, y1: base, x2: ax + plotAW, y2: base, stroke: '#333333' }));
  out.push(el('line', { x1: ax, y1: ay, x2: ax, y2: base, stroke: '#333333' }));
  const oy = base - report.sparsity * PLOT_A_H;
  out.push(el('line', { id: 'overall', x1: ax, y1: oy, x2: ax + plotAW, y2: oy, stroke: '#000000', 'stroke-dasharray': '5 3' }, tooltip(`overall ${percent(report.sparsity)}`)));
  out.push(text(ax + plotAW / 2, base + 30, 'layer', { 'font-size': 11, 'text-anchor': 'middle' }));
  y = base + 62;

  // --- panel B: rows by n --------------------------------------------------------------
  out.push(text(MARGIN, y, 'Rows by n, the weights pruned per group of 4 (share of the matrix\'s rows)', { 'font-size': 13, 'font-weight': 'bold' }));
  y += 16;
  lx = MARGIN + labelW;
  N_NAMES.forEach((name, n) => {
    out.push(el('rect', { x: lx, y: y - 9, width: 10, height: 10, fill: N_COLORS[n], stroke: '#999999', 'stroke-width': 0.5 }));
    out.push(text(lx + 14, y, name, { 'font-size': 11 }));
    lx += 14 + CHAR_W * 1.1 * name.length + 12;
  });
  y += 12;
  const bx = MARGIN + labelW;
  const by = y;
  const bh = layers.length * (ROW_H + ROW_GAP) + ROW_GAP;
  out.push(el('rect', { id: 'plot-rows', class: 'plot', x: bx, y: by, width: plotBW, height: bh, fill: '#fbfbfb', stroke: '#cccccc' }));
  layers.forEach((l, i) => {
    const ry = by + ROW_GAP + i * (ROW_H + ROW_GAP);
    out.push(text(bx - 6, ry + ROW_H - 2, l.weight, { 'font-size': 10, 'text-anchor': 'end' }));
    // Edges from cumulative counts, so the segments tile the bar exactly.
    let cum = 0;
    l.nHistogram.forEach((count, n) => {
      const x0 = bx + (plotBW * cum) / l.rows;
      cum += count;
      const x1 = bx + (plotBW * cum) / l.rows;
      if (count === 0) return;
      out.push(
        el(
          'rect',
          { class: 'seg', 'data-weight': l.weight, 'data-n': n, x: x0, y: ry, width: x1 - x0, height: ROW_H, fill: N_COLORS[n] },
          tooltip(`${l.weight}: n=${n} in ${count} of ${l.rows} rows (${percent(count / l.rows)})`),
        ),
      );
    });
    out.push(text(bx + plotBW + 6, ry + ROW_H - 2, `${l.rows} rows, ${percent(l.sparsity)}`, { 'font-size': 10, fill: '#444444' }));
  });
  const bBase = by + bh;
  for (const t of [0, 0.25, 0.5, 0.75, 1]) {
    const tx = bx + t * plotBW;
    out.push(el('line', { x1: tx, y1: bBase, x2: tx, y2: bBase + 4, stroke: '#333333' }));
    out.push(text(tx, bBase + 16, `${Math.round(t * 100)}%`, { 'font-size': 10, 'text-anchor': 'middle', fill: '#444444' }));
  }
  out.push(el('line', { x1: bx, y1: bBase, x2: bx + plotBW, y2: bBase, stroke: '#333333' }));
  out.push(text(bx + plotBW / 2, bBase + 32, 'share of rows', { 'font-size': 11, 'text-anchor': 'middle' }));
  return wrap(width, bBase + 44, title, report, out);
}

function wrap(width: number, height: number, title: string, report: ChartReport, body: string[]): string {
  const w = Math.ceil(width);
  const h = Math.ceil(height);
  return `${[
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" role="img" aria-labelledby="chart-title chart-desc" font-family="${FONT}">`,
    el('title', { id: 'chart-title' }, xmlEscape(title)),
    el('desc', { id: 'chart-desc' }, xmlEscape(subtitle(report))),
    el('rect', { x: 0, y: 0, width: w, height: h, fill: '#ffffff' }),
    ...body,
    '</svg>',
  ].join('\n')}\n`;
}
