// Lifting a one-token graph to a sequence graph: chosen inputs gain a leading L axis,
// one-token ops become their `sequenceForm`, and every type is re-inferred through
// the registry. A prefill graph is thus derived from whatever a pipeline made of the
// decode graph (pruned, reordered, fused), instead of being built a second time.
import { SsmcError } from '../errors.ts';
import type { Graph, Node, Region, Value } from './graph.ts';
import { makeGraph, walkNodes } from './graph.ts';
import { getOp, OpTypeError } from './op-registry.ts';
import type { TensorType } from './types.ts';
import { shapeEqual } from './types.ts';
import { assertValid } from './verifier.ts';

export interface LiftOptions {
  /** Graph inputs that carry one token's data (default: every i32 input). */
  readonly sequenceInputs?: readonly string[];
  /** Name of the lifted graph (default: the original's). */
  readonly name?: string;
}

export function liftToSequence(graph: Graph, seqLen: number, opts: LiftOptions = {}): Graph {
  if (!Number.isSafeInteger(seqLen) || seqLen < 1) throw new SsmcError('E_ARG', `sequence length must be a positive integer, got ${seqLen}`);
  const seqInputs = new Set(opts.sequenceInputs ?? graph.inputs.filter((v) => v.type.dtype === 'i32').map((v) => v.name));
  for (const name of seqInputs) {
    if (!graph.inputs.some((v) => v.name === name)) throw new SsmcError('E_ARG', `no graph input %${name} to lift`);
  }
  const types = new Map<string, TensorType>();
  for (const w of graph.weights) types.set(w.name, w.type);
  const inputs = graph.inputs.map((v) => (seqInputs.has(v.name) ? retype(v, { ...v.type, shape: [seqLen, ...v.type.shape] }) : v));
  for (const v of inputs) types.set(v.name, v.type);
  const before = new Map(types);
  for (const v of graph.inputs) before.set(v.name, v.type);
  for (const n of walkNodes(graph)) {
    for (const p of n.body?.inputs ?? []) before.set(p.name, p.type);
    for (const v of n.outputs) before.set(v.name, v.type);
  }
  const nodes = liftNodes(graph, types, before);
  const lifted = makeGraph({ ...graph, name: opts.name ?? graph.name, attrs: { ...graph.attrs, ...('mode' in graph.attrs ? { mode: 'prefill' } : {}), seq_len: seqLen }, inputs, nodes });
  assertValid(lifted);
  return lifted;
}

function liftNodes(region: Region, types: Map<string, TensorType>, before: ReadonlyMap<string, TensorType>): Node[] {
  return region.nodes.map((node) => {
    const inTypes = node.inputs.map((n) => types.get(n)!);
    const changed = node.inputs.some((n, i) => !shapeEqual(inTypes[i].shape, before.get(n)!.shape));
    const def = getOp(node.op);
    const op = changed && def.sequenceForm ? def.sequenceForm : node.op;
    let body = node.body;
    if (body) {
      const params = body.inputs.map((p, i) => retype(p, { ...p.type, shape: [...inTypes[i].shape] }));
      for (const p of params) types.set(p.name, p.type);
      body = { ...body, inputs: params, nodes: liftNodes(body, types, before) };
    }
    let inferred: TensorType[];
    try {
      inferred = getOp(op).infer(inTypes, node.attrs, body);
    } catch (e) {
      if (e instanceof OpTypeError) throw new SsmcError('E_TYPE', `cannot lift ${node.op} to a sequence: ${e.message}`, { what: `%${node.outputs[0]?.name}` });
      throw e;
    }
    const outputs = node.outputs.map((v, i) => retype(v, { ...v.type, dtype: inferred[i].dtype, shape: inferred[i].shape }));
    for (const v of outputs) types.set(v.name, v.type);
    return { ...node, op, outputs, ...(body ? { body } : {}) };
  });
}

function retype(v: Value, type: TensorType): Value {
  return { name: v.name, type };
}
