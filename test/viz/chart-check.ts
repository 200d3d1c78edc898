// What a correct sparsity chart is: bars and segments that measure the figures counted
// here from each matrix's n histogram (not taken from the chart code), in well-formed SVG.
import { expect } from 'vitest';
import type { LayerReport } from '../../src/passes/sparsity/report.ts';
import { byClass, parseXml, walkXml, type XmlElement } from './xml.ts';

export const num = (e: XmlElement, a: string) => Number(e.attrs[a]);
/** Coordinates are written with 2 decimals. */
const TOL = 0.011;

/** Checks a chart of `layers` (overall sparsity `overall`); returns the parsed SVG. */
export function checkChart(svgText: string, layers: readonly LayerReport[], overall: number): XmlElement {
  const svg = parseXml(svgText);
  expect(svg.name).toBe('svg');
  const plotA = [...walkXml(svg)].find((e) => e.attrs.id === 'plot-sparsity')!;
  const plotB = [...walkXml(svg)].find((e) => e.attrs.id === 'plot-rows')!;
  const baseline = num(plotA, 'y') + num(plotA, 'height');
  const bars = byClass(svg, 'bar');
  const segs = byClass(svg, 'seg');
  expect(bars).toHaveLength(layers.length);
  for (const l of layers) {
    const pruned = l.nHistogram.reduce((a, c, n) => a + n * c, 0);
    const rows = l.nHistogram.reduce((a, b) => a + b, 0);
    expect(rows).toBe(l.rows);
    const sparsity = pruned / (4 * rows);
    const bar = bars.filter((b) => b.attrs['data-weight'] === l.weight);
    expect(bar).toHaveLength(1);
    expect(Math.abs(num(bar[0], 'height') - sparsity * num(plotA, 'height'))).toBeLessThanOrEqual(TOL);
    expect(Math.abs(num(bar[0], 'y') + num(bar[0], 'height') - baseline)).toBeLessThanOrEqual(2 * TOL);
    // Row shares: one segment per n present, tiling the plot's width in n order.
    const mine = segs.filter((s) => s.attrs['data-weight'] === l.weight).sort((a, b) => num(a, 'data-n') - num(b, 'data-n'));
    expect(mine.map((s) => num(s, 'data-n'))).toEqual([0, 1, 2, 3, 4].filter((n) => l.nHistogram[n] > 0));
    let x = num(plotB, 'x');
    for (const s of mine) {
      expect(Math.abs(num(s, 'x') - x)).toBeLessThanOrEqual(2 * TOL);
      expect(Math.abs(num(s, 'width') - (l.nHistogram[num(s, 'data-n')] / rows) * num(plotB, 'width'))).toBeLessThanOrEqual(2 * TOL);
      x = num(s, 'x') + num(s, 'width');
    }
    expect(Math.abs(x - (num(plotB, 'x') + num(plotB, 'width')))).toBeLessThanOrEqual(3 * TOL);
  }
  const line = [...walkXml(svg)].find((e) => e.attrs.id === 'overall')!;
  expect(Math.abs(num(line, 'y1') - (baseline - overall * num(plotA, 'height')))).toBeLessThanOrEqual(TOL);
  return svg;
}

