// Random graphs for the hygiene passes: the project's graph generator, plus redundancy
// planted on purpose (duplicated nodes some later uses switch to, dead clones, unused
// weights) so that cse and dce have something to do on every case.
import fc from 'fast-check';
import type { Graph, Node } from '../../src/ir/graph.ts';
import { makeGraph, walkNodes } from '../../src/ir/graph.ts';
import type { Tensor } from '../../src/ir/tensor.ts';
import { tensorType } from '../../src/ir/types.ts';
import { arbGraphWithInputs } from '../../src/testing/arbitraries.ts';
import type { InputValue } from '../../src/ir/interpreter.ts';

export interface GraphCase {
  readonly graph: Graph;
  readonly inputs: Readonly<Record<string, InputValue>>;
}

/**
 * Plants redundancy driven by `picks`: each pick clones one body-less node right after
 * itself (outputs renamed), then points a random subset of the later uses of its
 * outputs (graph outputs included) at the clone. Clones nobody uses are dead code. One
 * unused weight is added as well.
 */
export function plantRedundancy(g: Graph, picks: readonly number[]): Graph {
  let nodes = [...g.nodes];
  let outputs = [...g.outputs];
  const taken = new Set<string>([...g.inputs, ...g.weights].map((v) => v.name));
  for (const n of walkNodes(g)) {
    n.outputs.forEach((o) => taken.add(o.name));
    n.body?.inputs.forEach((p) => taken.add(p.name));
  }
  const fresh = (base: string) => {
    let name = base;
    for (let i = 1; taken.has(name); i++) name = `${base}.${i}`;
    taken.add(name);
    return name;
  };
  picks.forEach((pick, k) => {
    const candidates = nodes.map((n, i) => [n, i] as const).filter(([n]) => !n.body && n.outputs.length > 0);
    if (candidates.length === 0) return;
    const [orig, at] = candidates[pick % candidates.length];
    const clone: Node = { ...orig, outputs: orig.outputs.map((o) => ({ ...o, name: fresh(`${o.name}.dup`) })) };
    const rename = new Map(orig.outputs.map((o, i) => [o.name, clone.outputs[i].name]));
    let bit = pick >>> 3;
    const flip = () => {
      bit = (bit * 1103515245 + 12345 + k) >>> 0;
      return (bit & 4) !== 0;
    };
    const later = nodes.slice(at + 1).map((n) => ({ ...n, inputs: n.inputs.map((x) => (rename.has(x) && flip() ? rename.get(x)! : x)) }));
    nodes = [...nodes.slice(0, at + 1), clone, ...later];
    outputs = outputs.map((x) => (rename.has(x) && flip() ? rename.get(x)! : x));
  });
  const dead = fresh('unused_weight');
  return makeGraph({
    ...g,
    nodes,
    outputs,
    weights: [...g.weights, { name: dead, type: tensorType('f32', [3]) }],
    weightData: g.weightData.with(dead, new Float32Array(3)),
  });
}

export const arbRedundantGraph: fc.Arbitrary<GraphCase> = fc
  .tuple(arbGraphWithInputs(), fc.array(fc.nat(), { minLength: 1, maxLength: 6 }))
  .map(([c, picks]) => ({ graph: plantRedundancy(c.graph, picks), inputs: c.inputs }));

/** Bitwise equality of interpreter results (NaN equals NaN, -0 differs from 0). */
export function outputsEqual(a: Record<string, Tensor>, b: Record<string, Tensor>): boolean {
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  return ka.every((k) => {
    const x = a[k].data;
    const y = b[k]?.data;
    return y !== undefined && x.length === y.length && x.every((v, i) => Object.is(v, y[i]));
  });
}
