// The drawing of a real pipeline's graph: the trained fixture pruned 2:4, fused, laid out
// for Adreno. Clusters are the kernels fuse-ops made (named as kernelNames says), edges
// carry the memory kinds select-layout chose, the sparse weights show 50%.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCheckpoint } from '../../src/frontend/load.ts';
import { buildMambaGraph } from '../../src/frontend/mamba-graph.ts';
import type { Graph } from '../../src/ir/graph.ts';
import { kernelNames } from '../../src/passes/fuse-ops.ts';
import { PassManager } from '../../src/passes/index.ts';
import { graphToDot } from '../../src/viz/dot.ts';
import { focusByName } from '../../src/viz/focus.ts';
import { renderSvg } from '../../src/viz/svg.ts';
import { fixtureNames, fixturesDir } from '../helpers/paths.ts';
import { checkDrawing } from './drawing-check.ts';
import { parseDot } from './graphviz-json.ts';

const PIPELINE = 'sparsify-cn4{method=magnitude pattern=uniform n=2},fuse-ops,select-layout{device=adreno},materialize-layout';

function laidOut(): Graph {
  const ck = loadCheckpoint(join(fixturesDir(), fixtureNames()[0]));
  return new PassManager(PIPELINE, { reproducerDir: false }).run(buildMambaGraph(ck, { mode: 'decode' })).graph;
}

describe('drawing the fused, laid-out Mamba decode graph', () => {
  const g = laidOut();
  const nLayer = Number(g.attrs.n_layer);

  it('shows every op once, every kernel as a cluster, memory kinds and 2:4 weights', async () => {
    const { parsed, dot, svg } = await checkDrawing(g);
    const groups = g.nodes.filter((n) => n.op === 'fused.group');
    // 7 kernels per layer + 2, of which the final rms_norm, the head and the later layers' norms stay single ops.
    expect(groups).toHaveLength(6 * nLayer + 1);
    expect(parsed.clusters.size).toBe(groups.length);
    const labels = [...parsed.clusters.values()].map((c) => /<B>(.*?)<\/B>/.exec(c.attrs.label)![1]).sort();
    expect(labels).toEqual(kernelNames(g).filter((_, i) => g.nodes[i].op === 'fused.group').sort());
    // select-layout put both kinds on the drawing's edges.
    const colors = new Set(parsed.edges.map((e) => e.attrs.tooltip.split(' ').pop()));
    expect(colors).toContain('image2d');
    expect(colors).toContain('buffer');
    for (const w of g.weights.filter((x) => x.type.cn4)) {
      expect(parsed.nodes.get(`weight:${w.name}`)!.label).toContain(`C_n^4: 50.0% pruned`);
      expect(parsed.nodes.get(`weight:${w.name}`)!.label).toContain(`rows n=0..4: 0/0/${w.type.shape[0]}/0/0`);
    }
    // Same graph, same bytes.
    expect(graphToDot(laidOut())).toBe(dot);
    expect(await renderSvg(dot)).toBe(svg);
  });

  it('draws one decode layer: its six kernels and its norm, cut from the rest', async () => {
    const parsed = await parseDot(graphToDot(g, { include: focusByName('^l1\\.') }));
    const labels = [...parsed.clusters.values()].map((c) => /<B>(.*?)<\/B>/.exec(c.attrs.label)![1]).sort();
    expect(labels).toEqual(['conv1d_step_silu', 'linear_add', 'linear_softplus', 'linear_split', 'linear_split', 'scan_step_mul_add_silu_mul']);
    expect(parsed.nodes.has('op:l1.hn')).toBe(true);
    // The residual stream enters from layer 0 and leaves for layer 2; layer 1's states are inputs and outputs.
    expect(parsed.nodes.has('external:h.1')).toBe(true);
    expect(parsed.nodes.has('external-use:h.2')).toBe(true);
    expect([...parsed.nodes.keys()].filter((id) => id.startsWith('input:')).sort()).toEqual(['input:conv.1', 'input:ssm.1']);
    expect([...parsed.nodes.keys()].filter((id) => id.startsWith('output:')).sort()).toEqual(['output:conv.1.next', 'output:ssm.1.next']);
    expect([...parsed.nodes.keys()].some((id) => /^(op|group|weight):l[02-9]\./.test(id))).toBe(false);
  });
});
