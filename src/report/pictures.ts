// The main job's pictures, rendered in memory (the caller writes them next to
// report.md): the per-layer sparsity chart, one fused decode layer after the OpenCL
// layout pipeline (clusters = kernels, edge colours = memory kinds, weights with their
// C_n^4 sparsity), and the whole fused graph.
import type { Graph } from '../ir/graph.ts';
import { graphToDot } from '../viz/dot.ts';
import { focusByName } from '../viz/focus.ts';
import { sparsityChartSvg } from '../viz/sparsity-chart.ts';
import { renderSvg } from '../viz/svg.ts';
import type { MainJobReport } from './main-job.ts';

export interface Picture {
  /** File name inside the output folder. */
  readonly file: string;
  /** What it shows (alt text and caption in report.md). */
  readonly caption: string;
  readonly svg: string;
}

export interface MainJobPictures {
  readonly sparsity?: Picture;
  readonly layer?: Picture;
  readonly graph: Picture;
}

/** A layer that is neither the first (the embedding joins its kernels) nor missing. */
function typicalLayer(nLayer: number): number {
  return nLayer > 1 ? 1 : 0;
}

export async function mainJobPictures(report: MainJobReport, sparseLaidOut: Graph): Promise<MainJobPictures> {
  const sparsity = report.sparsity
    ? {
        file: 'sparsity.svg',
        caption: `C_n^4 sparsity per layer and projection, and rows by n (${report.pipeline})`,
        svg: sparsityChartSvg(report.sparsity, { title: `C_n^4 sparsity per layer: ${report.model.n_layer} layers, d_model ${report.model.d_model}` }),
      }
    : undefined;
  const k = typicalLayer(report.model.n_layer);
  const focus = focusByName(`^l${k}\\.`);
  const layer = sparseLaidOut.nodes.some((n) => focus(n))
    ? {
        file: `graph-layer${k}.svg`,
        caption: `Decode layer ${k} of the pruned model after fuse-ops, select-layout (Adreno) and materialize-layout`,
        svg: await renderSvg(graphToDot(sparseLaidOut, { include: focus, title: `${sparseLaidOut.name}: layer ${k}` })),
      }
    : undefined;
  const graph = {
    file: 'graph.svg',
    caption: 'The whole pruned decode graph after the OpenCL layout pipeline',
    svg: await renderSvg(graphToDot(sparseLaidOut)),
  };
  return { sparsity, layer, graph };
}
