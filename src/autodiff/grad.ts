// Reverse-mode gradients over the IR. The forward pass is the interpreter's own (its
// `observe` tap records every node's inputs and outputs), so the values differentiated
// are exactly the ones that define the graph; the backward pass walks the nodes in
// reverse and applies each op's `vjp` rule (src/ir/ops/*). Only nodes between the
// chosen weights and the loss are differentiated, so an op without a rule is an error
// only where a gradient has to pass through it.
import { SsmcError } from '../errors.ts';
import type { Graph, Node } from '../ir/graph.ts';
import { walkNodes } from '../ir/graph.ts';
import type { InputValue } from '../ir/interpreter.ts';
import { Interpreter } from '../ir/interpreter.ts';
import { getOp } from '../ir/op-registry.ts';
import type { Tensor } from '../ir/tensor.ts';

/**
 * The loss as a function of some graph outputs: its value and d loss / d output for
 * each output it reads (by name).
 */
export type LossFn = (outputs: Readonly<Record<string, Tensor>>) => { readonly loss: number; readonly grads: Readonly<Record<string, Float64Array>> };

export interface GradResult {
  readonly loss: number;
  /** d loss / d weight, by weight name (numel of the weight). */
  readonly grads: Map<string, Float64Array>;
  readonly outputs: Readonly<Record<string, Tensor>>;
}

/** Weights (by name) whose gradients `valueAndGrad` can return: the float ones. */
export function differentiableWeights(graph: Graph): string[] {
  return graph.weights.filter((w) => w.type.dtype !== 'i32').map((w) => w.name);
}

/**
 * Runs `graph` on `inputs`, evaluates `loss` on its outputs and returns the gradient of
 * the loss with respect to each weight in `wrt`. E_UNSUPPORTED names the first op on a
 * gradient path without a VJP rule (fused groups, for instance: differentiate before
 * fuse-ops); E_ARG names a weight that is not a float weight of the graph.
 */
export function valueAndGrad(graph: Graph, inputs: Readonly<Record<string, InputValue>>, wrt: readonly string[], loss: LossFn): GradResult {
  const floatWeights = new Set(differentiableWeights(graph));
  for (const w of wrt) if (!floatWeights.has(w)) throw new SsmcError('E_ARG', `cannot differentiate with respect to @${w}: not a float weight of graph @${graph.name}`);
  const active = activeNodes(graph, new Set(wrt));
  const tape: { node: Node; inputs: readonly Tensor[]; outputs: readonly Tensor[] }[] = [];
  const outputs = new Interpreter(graph).run(inputs, {
    observe: (node, ins, outs) => {
      if (active.has(node)) tape.push({ node, inputs: ins, outputs: outs });
    },
  });
  const { loss: value, grads: seeds } = loss(outputs);
  const grads = new Map<string, Float64Array>();
  for (const [name, g] of Object.entries(seeds)) accumulate(grads, name, g);
  const needs = new Set<string>(wrt);
  for (const { node } of tape) for (const o of node.outputs) needs.add(o.name);
  for (let i = tape.length - 1; i >= 0; i--) {
    const { node, inputs: ins, outputs: outs } = tape[i];
    const outGrads = node.outputs.map((o) => grads.get(o.name));
    if (outGrads.every((g) => g === undefined)) continue;
    const rule = getOp(node.op).vjp!;
    const wants = node.inputs.map((n, k) => needs.has(n) && ins[k].type.dtype !== 'i32');
    const inGrads = rule({ inputs: ins, outputs: outs, attrs: node.attrs, outGrads, wants });
    node.inputs.forEach((n, k) => {
      const g = inGrads[k];
      if (wants[k] && g) accumulate(grads, n, g);
    });
    for (const o of node.outputs) grads.delete(o.name);
  }
  const result = new Map<string, Float64Array>();
  for (const w of wrt) result.set(w, grads.get(w) ?? new Float64Array(graph.weightData.get(w).length));
  return { loss: value, grads: result, outputs };
}

function accumulate(grads: Map<string, Float64Array>, name: string, g: Float64Array): void {
  const have = grads.get(name);
  if (!have) {
    grads.set(name, g);
    return;
  }
  for (let i = 0; i < g.length; i++) have[i] += g[i];
}

/**
 * Top-level nodes with an input that depends on a weight in `wrt`: the ones a
 * gradient passes through. Each must have a VJP rule.
 */
function activeNodes(graph: Graph, wrt: ReadonlySet<string>): Set<Node> {
  const depends = new Set(wrt);
  const active = new Set<Node>();
  for (const node of graph.nodes) {
    // A body may read weights by name, not through the node's inputs.
    const reads = node.body ? [...node.inputs, ...[...walkNodes(node.body)].flatMap((n) => n.inputs)] : node.inputs;
    if (!reads.some((n) => depends.has(n))) continue;
    const def = getOp(node.op);
    if (!def.vjp) {
      throw new SsmcError('E_UNSUPPORTED', `op ${node.op} has no reverse-mode (vjp) rule, and a gradient has to pass through it`, { what: `%${node.outputs[0]?.name} = ${node.op}` });
    }
    active.add(node);
    for (const o of node.outputs) depends.add(o.name);
  }
  return active;
}
