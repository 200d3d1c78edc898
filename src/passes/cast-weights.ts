// cast-weights: the storage dtype of weights, decided in the IR so that every backend
// stores what the graph says and the interpreter run on the cast graph is the exact
// reference for it (f16 values are decoded exactly; only accumulation order differs).
//
//   cast-weights                       f16 for the matrices (the default)
//   cast-weights{dtype=f32 which=all}  every float weight widened to f32
//
// `matrices` are the weights the decode step streams: nn.linear's weight and
// nn.embedding's table (the tied head is both). `vectors` are every other float weight
// (norm scales, conv taps, A, D, biases): small, read every token, kept f32 by default.
// Narrowing to f16 rounds to nearest even; zeros stay zeros, so C_n^4 patterns and
// their annotations survive. i32 weights are never touched.
import type { Graph, Region, Value } from '../ir/graph.ts';
import { makeGraph } from '../ir/graph.ts';
import type { DType, TensorType } from '../ir/types.ts';
import type { WeightArray } from '../ir/weights.ts';
import { decodeBf16Array, decodeF16Array, encodeF16Array } from '../util/half.ts';
import { definePass, option } from './pass.ts';

export type CastWhich = 'matrices' | 'vectors' | 'all';
export type CastDType = 'f32' | 'f16';

/** Names of the weights a graph uses as streamed matrices (fused bodies included). */
export function matrixWeights(graph: Graph): Set<string> {
  const decls = new Set(graph.weights.map((w) => w.name));
  const out = new Set<string>();
  const visit = (r: Region, bind: ReadonlyMap<string, string>) => {
    for (const n of r.nodes) {
      const ins = n.inputs.map((x) => bind.get(x) ?? x);
      ins.forEach((x, i) => {
        if (decls.has(x) && ((n.op === 'nn.linear' && i === 1) || (n.op === 'nn.embedding' && i === 0))) out.add(x);
      });
      if (n.body) visit(n.body, new Map([...bind, ...n.body.inputs.map((p, i): [string, string] => [p.name, ins[i]])]));
    }
  };
  visit(graph, new Map());
  return out;
}

function toF32(data: WeightArray, dtype: DType): Float32Array {
  if (dtype === 'f16') return decodeF16Array(data as Uint16Array);
  if (dtype === 'bf16') return decodeBf16Array(data as Uint16Array);
  return data as Float32Array;
}

/** The graph with the selected float weights stored as `dtype` (the same graph when nothing changes). */
export function castWeights(graph: Graph, dtype: CastDType, which: CastWhich = 'matrices'): Graph {
  const matrices = matrixWeights(graph);
  const pick = (w: Value) => w.type.dtype !== 'i32' && w.type.dtype !== dtype && (which === 'all' || (which === 'matrices') === matrices.has(w.name));
  const newType = new Map<string, TensorType>();
  let store = graph.weightData;
  for (const w of graph.weights) {
    if (!pick(w)) continue;
    const f = toF32(graph.weightData.get(w.name), w.type.dtype);
    store = store.with(w.name, dtype === 'f16' ? encodeF16Array(f) : f);
    newType.set(w.name, { ...w.type, dtype });
  }
  if (newType.size === 0) return graph;
  const retype = (v: Value): Value => (newType.has(v.name) ? { name: v.name, type: newType.get(v.name)! } : v);
  // Fused bodies declare their parameters' types: a parameter bound to a cast weight follows it.
  const fixRegion = (r: Region, bind: ReadonlyMap<string, string>): Region => ({
    ...r,
    nodes: r.nodes.map((n) => {
      if (!n.body) return n;
      const ins = n.inputs.map((x) => bind.get(x) ?? x);
      const inner = new Map([...bind, ...n.body.inputs.map((p, i): [string, string] => [p.name, ins[i]])]);
      const params = n.body.inputs.map((p, i) => (newType.has(ins[i]) ? { name: p.name, type: { ...p.type, dtype } } : p));
      return { ...n, body: { ...fixRegion(n.body, inner), inputs: params } };
    }),
  });
  const fixed = fixRegion(graph, new Map());
  return makeGraph({ ...graph, nodes: fixed.nodes, weights: graph.weights.map(retype), weightData: store });
}

export const castWeightsPass = definePass({
  name: 'cast-weights',
  description: 'store weights as f16 or f32 (matrices: linear and embedding weights; vectors: every other float weight; all)',
  options: {
    dtype: option.enum(['f32', 'f16'], { default: 'f16', doc: 'storage dtype' }),
    which: option.enum(['matrices', 'vectors', 'all'], { default: 'matrices', doc: 'which float weights to cast' }),
  },
  run(graph, o) {
    return castWeights(graph, o.dtype, o.which);
  },
});
