// The sparsity chart: its bars and segments measure the report's figures (expected
// values are counted here from each matrix's n histogram, not taken from the chart
// code), the SVG is well-formed, and the same report gives the same bytes.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { LayerReport } from '../../src/passes/sparsity/report.ts';
import { sparsityChartSvg, type ChartReport } from '../../src/viz/sparsity-chart.ts';
import { seed } from '../helpers/paths.ts';
import { checkChart, num } from './chart-check.ts';
import { byClass, parseXml, walkXml } from './xml.ts';

const KINDS = ['in_proj', 'x_proj', 'dt_proj', 'out_proj'];

const arbLayer = (weight: string, kind: string): fc.Arbitrary<LayerReport> =>
  fc.tuple(fc.array(fc.nat({ max: 300 }), { minLength: 5, maxLength: 5 }), fc.integer({ min: 1, max: 512 })).map(([h, cols]) => {
    const hist = h.reduce((a, b) => a + b, 0) === 0 ? [1, 0, 0, 0, 0] : h;
    const rows = hist.reduce((a, b) => a + b, 0);
    return { weight, kind, rows, cols: cols * 4, nHistogram: hist, sparsity: hist.reduce((a, c, n) => a + n * c, 0) / (4 * rows) };
  });

/** Reports as sparsify-cn4 writes them: some layers, some projections each, maybe a matrix outside the layers. */
const arbReport: fc.Arbitrary<ChartReport> = fc
  .tuple(fc.integer({ min: 1, max: 6 }), fc.subarray(KINDS, { minLength: 1 }), fc.boolean())
  .chain(([nLayer, kinds, head]) => {
    const names: Array<[string, string]> = [];
    for (let l = 0; l < nLayer; l++) for (const k of kinds) names.push([`l${l}.${k}`, k]);
    if (head) names.push(['embedding', 'embedding']);
    return fc.tuple(...names.map(([w, k]) => arbLayer(w, k)));
  })
  .map((layers) => {
    const numel = (l: LayerReport) => l.rows * l.cols;
    const sparsity = layers.reduce((a, l) => a + l.sparsity * numel(l), 0) / layers.reduce((a, l) => a + numel(l), 0);
    return { method: 'obs', pattern: 'adaptive', target: 'sparsity=0.5', sparsity, layers };
  });

describe('sparsityChartSvg', () => {
  it('draws bars and row shares equal to the report, grouped by layer in order', () => {
    fc.assert(
      fc.property(arbReport, (r) => {
        const svgText = sparsityChartSvg(r);
        const svg = checkChart(svgText, r.layers, r.sparsity);
        // Layer k's bars all lie left of layer k+1's.
        const bars = byClass(svg, 'bar');
        const xsOf = (k: number) => bars.filter((b) => b.attrs['data-weight'].startsWith(`l${k}.`)).map((b) => num(b, 'x'));
        for (let k = 0; xsOf(k + 1).length; k++) expect(Math.max(...xsOf(k))).toBeLessThan(Math.min(...xsOf(k + 1)));
        // Every projection is in the legend; the subtitle names how the report was made.
        const texts = [...walkXml(svg)].filter((e) => e.name === 'text').map((e) => e.text);
        for (const l of r.layers) expect(texts).toContain(l.kind);
        expect(texts.some((t) => t.includes('method obs, pattern adaptive, target sparsity=0.5'))).toBe(true);
        expect(sparsityChartSvg(r)).toBe(svgText);
      }),
      { numRuns: 100, seed },
    );
  });

  it('escapes text and still draws an empty report', () => {
    const svg = sparsityChartSvg({ method: '<obs & "x">', pattern: 'p', target: 't', sparsity: 0, layers: [] }, { title: "a < b & c's" });
    const doc = parseXml(svg);
    const texts = [...walkXml(doc)].filter((e) => e.name === 'text').map((e) => e.text);
    expect(texts).toContain("a < b & c's");
    expect(texts.some((t) => t.includes('<obs & "x">'))).toBe(true);
    expect(texts).toContain('no C_n^4 sparse matrices in this model');
    expect(byClass(doc, 'bar')).toHaveLength(0);
  });
});
