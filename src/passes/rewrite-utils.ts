// Small helpers for writing passes over the immutable graph: who produces a value,
// replacing uses, fresh names. Not a pass (no pipeline token).
import type { Graph, Node, Region } from '../ir/graph.ts';
import { makeGraph, walkNodes } from '../ir/graph.ts';

/** Value name -> the node of `region` (not nested regions) that defines it. */
export function producers(region: Region): Map<string, Node> {
  const m = new Map<string, Node>();
  for (const n of region.nodes) for (const o of n.outputs) m.set(o.name, n);
  return m;
}

/** How many times each name is used as an input (all regions) or output of `region`. */
export function useCounts(region: Region): Map<string, number> {
  const m = new Map<string, number>();
  const add = (n: string) => m.set(n, (m.get(n) ?? 0) + 1);
  for (const n of walkNodes(region)) n.inputs.forEach(add);
  const addOutputs = (r: Region) => {
    r.outputs.forEach(add);
    for (const n of r.nodes) if (n.body) addOutputs(n.body);
  };
  addOutputs(region);
  return m;
}

/** Every name defined in a graph: inputs, weights, node outputs and region parameters. */
export function definedNames(graph: Graph): Set<string> {
  const s = new Set<string>();
  for (const v of graph.inputs) s.add(v.name);
  for (const v of graph.weights) s.add(v.name);
  for (const n of walkNodes(graph)) {
    for (const o of n.outputs) s.add(o.name);
    if (n.body) for (const p of n.body.inputs) s.add(p.name);
  }
  return s;
}

/** A generator of names not yet used in `graph` (`base`, then `base.1`, `base.2`, ...). */
export function freshNamer(graph: Graph): (base: string) => string {
  const taken = definedNames(graph);
  return (base) => {
    let name = base;
    for (let i = 1; taken.has(name); i++) name = `${base}.${i}`;
    taken.add(name);
    return name;
  };
}

/** Follows `map` to its end (a -> b -> c gives c); cycles are left at the first repeat. */
function resolver(map: ReadonlyMap<string, string>): (name: string) => string {
  return (name) => {
    const seen = new Set<string>();
    while (map.has(name) && !seen.has(name)) {
      seen.add(name);
      name = map.get(name)!;
    }
    return name;
  };
}

/**
 * Replaces every use of each key of `map` by its value (transitively), in node inputs
 * and region outputs, nested regions included. Note that the graph's own outputs are
 * uses too: replacing a value the graph returns renames that output. Nodes and regions
 * that do not change keep their identity. Definitions are left alone (run dce after).
 */
export function replaceUses(graph: Graph, map: ReadonlyMap<string, string>): Graph {
  if (map.size === 0) return graph;
  const resolve = resolver(map);
  const region = replaceInRegion(graph, resolve);
  return region === graph ? graph : makeGraph({ ...graph, nodes: region.nodes, outputs: region.outputs });
}

function replaceInRegion(region: Region, resolve: (n: string) => string): Region {
  let changed = false;
  const nodes = region.nodes.map((n) => {
    const inputs = n.inputs.map(resolve);
    const body = n.body ? replaceInRegion(n.body, resolve) : undefined;
    if (body === n.body && inputs.every((x, i) => x === n.inputs[i])) return n;
    changed = true;
    return { ...n, inputs, ...(body ? { body } : {}) };
  });
  const outputs = region.outputs.map(resolve);
  if (!changed && outputs.every((x, i) => x === region.outputs[i])) return region;
  return { ...region, nodes, outputs };
}
