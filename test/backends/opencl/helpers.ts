// Shared by the OpenCL tests: memory kinds written into a graph by hand (what
// select-layout / materialize-layout will do), explicit mem.* conversions, and the
// mem.* ops themselves while the layout work that defines them has not landed.
import type { Graph, Node, Region, Value } from '../../../src/ir/graph.ts';
import { makeGraph } from '../../../src/ir/graph.ts';
import { defineOp, findOp } from '../../../src/ir/op-registry.ts';
import { alloc } from '../../../src/ir/tensor.ts';
import type { MemoryKind, TensorType } from '../../../src/ir/types.ts';
import { lcg } from '../../helpers/random-model.ts';

/**
 * mem.to_image / mem.to_buffer: identity, the output type carries the target memory
 * kind. Defined here only when the real ops (another engineer's) are not registered,
 * under the same names, so these tests run against the real ones once they land.
 */
export function ensureMemOps(): void {
  for (const [kind, memory] of [['mem.to_image', 'image2d'], ['mem.to_buffer', 'buffer']] as const) {
    if (findOp(kind)) continue;
    defineOp({
      kind,
      description: `identity; the result lives in ${memory} memory (test stand-in)`,
      fusion: 'opaque',
      inputs: ['x'],
      attrs: {},
      infer: ([x]) => [{ dtype: x.dtype, shape: [...x.shape], memory }],
      evaluate([x], _a, [t]) {
        const out = alloc(t);
        out.data.set(x.data);
        return [out];
      },
      cost: ([x]) => ({ bytes: 8 * x.shape.reduce((a, b) => a * b, 1), flops: 0 }),
    });
  }
}

const withMem = (t: TensorType, m: MemoryKind | undefined): TensorType => (m === undefined ? t : { ...t, memory: m });

/**
 * Memory kinds by hand: `weights` picks each weight's kind, `values` each intermediate
 * value's (graph inputs and outputs stay buffers: the host reads and writes them).
 */
export function annotateMemory(g: Graph, weights: (w: Value) => MemoryKind | undefined, values: (v: Value) => MemoryKind | undefined): Graph {
  const io = new Set([...g.inputs.map((v) => v.name), ...g.outputs]);
  const retype = (v: Value): Value => (io.has(v.name) || v.type.dtype === 'i32' ? v : { name: v.name, type: withMem(v.type, values(v)) });
  const region = (r: Region): Node[] =>
    r.nodes.map((n) => ({ ...n, outputs: n.outputs.map(retype), ...(n.body ? { body: { ...n.body, nodes: region(n.body) } } : {}) }));
  return makeGraph({ ...g, weights: g.weights.map((w) => (w.type.dtype === 'i32' ? w : { name: w.name, type: withMem(w.type, weights(w)) })), nodes: region(g) });
}

/** A seeded coin for annotateMemory. */
export function coin(seed: number, p = 0.5): () => boolean {
  const rnd = lcg(seed);
  return () => rnd() < p;
}

/**
 * After some top-level f32 results, an explicit mem.to_image (and sometimes a
 * mem.to_buffer back); later users read the converted value. Returns the graph and
 * how many conversions it holds.
 */
export function insertConversions(g: Graph, seed: number): { graph: Graph; conversions: number } {
  ensureMemOps();
  const flip = coin(seed, 0.4);
  const outs = new Set(g.outputs);
  const rename = new Map<string, string>();
  const nodes: Node[] = [];
  let conversions = 0;
  for (const n of g.nodes) {
    nodes.push({ ...n, inputs: n.inputs.map((x) => rename.get(x) ?? x) });
    for (const v of n.outputs) {
      if (outs.has(v.name) || v.type.dtype !== 'f32' || (v.type.memory ?? 'buffer') !== 'buffer' || !flip()) continue;
      const img: Value = { name: `${v.name}.img`, type: { ...v.type, memory: 'image2d' } };
      nodes.push({ op: 'mem.to_image', inputs: [v.name], outputs: [img], attrs: {} });
      conversions++;
      let last = img;
      if (flip()) {
        last = { name: `${v.name}.buf`, type: { ...v.type, memory: 'buffer' } };
        nodes.push({ op: 'mem.to_buffer', inputs: [img.name], outputs: [last], attrs: {} });
        conversions++;
      }
      rename.set(v.name, last.name);
    }
  }
  return { graph: makeGraph({ ...g, nodes }), conversions };
}

/**
 * Reads of the named weights through an explicit mem.to_image (an unfused graph: the
 * conversion is a top-level node and the users read its result).
 */
export function convertWeights(g: Graph, names: readonly string[]): Graph {
  ensureMemOps();
  const convs: Node[] = [];
  const rename = new Map<string, string>();
  for (const w of g.weights) {
    if (!names.includes(w.name)) continue;
    convs.push({ op: 'mem.to_image', inputs: [w.name], outputs: [{ name: `${w.name}.img`, type: { ...w.type, memory: 'image2d' } }], attrs: {} });
    rename.set(w.name, `${w.name}.img`);
  }
  return makeGraph({ ...g, nodes: [...convs, ...g.nodes.map((n) => ({ ...n, inputs: n.inputs.map((x) => rename.get(x) ?? x) }))] });
}
