// What every code generator does first with a decode graph: widen the small vectors
// (norm scales, conv taps, A, D, biases) to f32 as the kernels read them — exact, so
// the interpreter's result is unchanged — find the graph's I/O roles, derive the
// prefill graph by lifting, and inline fused groups in both.
import type { Graph } from '../ir/graph.ts';
import { liftToSequence } from '../ir/sequence.ts';
import { castWeights } from '../passes/cast-weights.ts';
import type { FlatNode } from './flatten.ts';
import { flatten } from './flatten.ts';
import type { GraphIO } from './graph-io.ts';
import { classifyIO } from './graph-io.ts';

export interface LoweringInput {
  readonly decode: Graph;
  readonly prefill: Graph;
  readonly gio: GraphIO;
  readonly flats: { readonly decode: FlatNode[]; readonly prefill: FlatNode[] };
}

export function prepareLowering(input: Graph, chunk: number, backend: string): LoweringInput {
  const decode = castWeights(input, 'f32', 'vectors');
  const gio = classifyIO(decode, backend);
  const prefill = liftToSequence(decode, chunk, { sequenceInputs: [gio.tokens] });
  const flats = { decode: [] as FlatNode[], prefill: [] as FlatNode[] };
  flatten(decode, new Map(), flats.decode);
  flatten(prefill, new Map(), flats.prefill);
  return { decode, prefill, gio, flats };
}

/** Weight uses the kernels read as stored (f16, C_n^4, image); every other use reads f32. */
export const streamed = (op: string, i: number): boolean => (op === 'nn.linear' && i === 1) || (op === 'nn.embedding' && i === 0);
