// Pictures: the IR graph as DOT / SVG (Graphviz in WebAssembly) and the C_n^4 sparsity chart.
export { graphToDot, nodeDotId, clusterDotId, type DotOptions } from './dot.ts';
export { focusByName } from './focus.ts';
export { renderSvg, renderSvgWithWarnings, graphvizVersion, type SvgResult } from './svg.ts';
export { sparsityChartSvg, type ChartReport, type ChartOptions } from './sparsity-chart.ts';
