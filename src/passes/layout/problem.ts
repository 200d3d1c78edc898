// The layout cost model: a graph and a device table become a LayoutProblem, a list of
// binary choices (buffer or image2d) with costs, and `layoutCost` prices any complete
// assignment. select-layout minimises it (solve.ts); tests minimise it exhaustively.
//
// Variables
//   - a stored kind per tensor the OpenCL backend allocates: graph inputs, weights and
//     the results of top-level nodes (the values between kernels). Values inside a
//     fused body live in registers and have no memory kind.
//   - a read kind per read site: operand j of top-level node n. A fused kernel states
//     it through its parameter's type, so it may differ from the stored kind (a
//     conversion then feeds it); a weight a body names directly is read as it is
//     stored ("tied" site), and so is the operand of a conversion node.
// Cost = Σ writes (producer's bytes x write cost of the stored kind; inputs and weights
//        are written by the previous step or uploaded once: 0)
//      + Σ reads (the site's traffic priced in its read kind, access.ts)
//      + Σ conversions: one kernel per tensor and target kind that some site reads in a
//        kind other than the stored one (launch + bytes x per-byte), shared by all such sites.
// Constraints (allowed kinds): image feasibility of the tensor, op capabilities, the
// graph interface (inputs and outputs fixed to buffer by default, or free with each
// state input X tied to its next-state output X.next), and existing annotations
// (`respectExisting`: the user's or an earlier run's decision is kept).
import { SsmcError } from '../../errors.ts';
import type { Graph, Node } from '../../ir/graph.ts';
import type { MemoryKind, TensorType } from '../../ir/types.ts';
import { MEMORY_KINDS } from '../../ir/types.ts';
import type { DeviceDesc, PerKind } from '../devices/index.ts';
import type { Traffic } from './access.ts';
import { kernelReads, operandTraffic, readCost, valueBytes } from './access.ts';
import { bodyResultKinds, imageInfeasibility, intersect, operandKinds, resultKinds, usesKinds } from './capabilities.ts';

export type Interface = 'buffer' | 'free';

export interface LayoutOptions {
  /** Graph inputs and outputs: fixed to buffer (default), or chosen like any tensor. */
  readonly interface?: Interface;
  /** Keep existing `memory` annotations as constraints (default true). */
  readonly respectExisting?: boolean;
}

export interface LayoutTensor {
  readonly name: string;
  readonly type: TensorType;
  readonly role: 'input' | 'weight' | 'result';
  /** Kinds it may be stored in (never empty). */
  readonly allowed: readonly MemoryKind[];
  /** Its producer's cost of writing it in each kind. */
  readonly write: PerKind;
  /** One conversion kernel making a copy in each kind (Infinity: impossible). */
  readonly convert: PerKind;
  /** Why it cannot be an image, when it cannot. */
  readonly whyNotImage?: string;
}

export interface ReadSite {
  readonly tensor: number;
  /** The top-level node reading it. */
  readonly node: number;
  /** Its operand index, or -1 for a weight the node's body names directly. */
  readonly operand: number;
  /** Reads the stored kind, whatever it is (cannot state another). */
  readonly tied: boolean;
  /** Kinds it can read (never empty; for a tied site the tensor's allowed kinds are narrowed to these). */
  readonly allowed: readonly MemoryKind[];
  readonly read: PerKind;
}

export interface LayoutProblem {
  readonly device: DeviceDesc;
  readonly tensors: readonly LayoutTensor[];
  readonly sites: readonly ReadSite[];
  /** Pairs of tensors that must have the same kind (a state input and its next state). */
  readonly ties: readonly (readonly [number, number])[];
}

export interface Assignment {
  /** Stored kind per tensor. */
  readonly stored: readonly MemoryKind[];
  /** Read kind per site. */
  readonly reads: readonly MemoryKind[];
}

const BOTH: readonly MemoryKind[] = MEMORY_KINDS;

export function buildLayoutProblem(graph: Graph, device: DeviceDesc, opts: LayoutOptions = {}): LayoutProblem {
  const iface = opts.interface ?? 'buffer';
  const respect = opts.respectExisting ?? true;
  const tensors: MutableTensor[] = [];
  const index = new Map<string, number>();
  const graphOutputs = new Set(graph.outputs);
  const fail = (msg: string): never => {
    throw new SsmcError('E_PASS', `select-layout (${device.name}): ${msg}`);
  };

  const addTensor = (name: string, type: TensorType, role: LayoutTensor['role'], canWrite: readonly MemoryKind[], writeBytes: number) => {
    const whyNotImage = imageInfeasibility(type, device);
    let allowed = whyNotImage ? intersect(canWrite, ['buffer']) : canWrite;
    if (allowed.length === 0) fail(`%${name} can only be written as ${canWrite.join('|')}, but ${whyNotImage}`);
    const atInterface = role === 'input' || graphOutputs.has(name);
    const pin = respect ? type.memory : undefined;
    if (pin) {
      if (!allowed.includes(pin)) fail(`%${name} is annotated ${pin}, but ${whyNotImage ?? 'its producer can only write a buffer'}`);
      allowed = [pin];
    } else if (atInterface && iface === 'buffer') allowed = intersect(allowed, ['buffer']);
    const bytes = valueBytes(type);
    const convert = { buffer: device.convert.launch + bytes * device.convert.perByte, image2d: whyNotImage ? Infinity : device.convert.launch + bytes * device.convert.perByte };
    const write = { buffer: writeBytes * device.write.buffer, image2d: writeBytes * device.write.image2d };
    index.set(name, tensors.length);
    tensors.push({ name, type, role, allowed, write, convert, ...(whyNotImage ? { whyNotImage } : {}) });
  };

  const weightTypes = new Map(graph.weights.map((w) => [w.name, w.type]));
  const usedWeights = usedNames(graph);
  for (const v of graph.inputs) addTensor(v.name, v.type, 'input', BOTH, 0);
  for (const w of graph.weights) if (usedWeights.has(w.name)) addTensor(w.name, w.type, 'weight', BOTH, 0);
  graph.nodes.forEach((n) =>
    n.outputs.forEach((o, i) => addTensor(o.name, o.type, 'result', n.body ? bodyResultKinds(device, n.body, i) : resultKinds(device, n.op, i), valueBytes(o.type))),
  );

  const sites: ReadSite[] = [];
  const typeOf = (x: string) => tensors[index.get(x)!].type;
  const addSite = (node: number, operand: number, name: string, tied: boolean, canRead: readonly MemoryKind[], tr: Traffic, pin?: MemoryKind) => {
    const t = index.get(name);
    if (t === undefined) return fail(`node ${node} reads %${name}, which is not a graph input, weight or top-level result`);
    const tensor = tensors[t];
    let allowed = tensor.whyNotImage ? intersect(canRead, ['buffer']) : canRead;
    if (pin) {
      if (!allowed.includes(pin)) fail(`operand ${operand} of node ${node} (%${name}) is annotated ${pin}, but ${tensor.whyNotImage ?? 'the kernel cannot read an image there'}`);
      allowed = [pin];
    }
    if (tied) {
      const narrowed = intersect(tensor.allowed, allowed);
      if (narrowed.length === 0) fail(`%${name} must be ${tensor.allowed.join('|')} but node ${node} reads it as stored and can only read ${allowed.join('|')}`);
      tensor.allowed = narrowed;
    }
    sites.push({ tensor: t, node, operand, tied, allowed, read: { buffer: readCost(tr, device, 'buffer'), image2d: readCost(tr, device, 'image2d') } });
  };

  graph.nodes.forEach((n, i) => {
    if (n.body) {
      const reads = kernelReads(n.body, weightTypes);
      n.inputs.forEach((x, j) => {
        const p = n.body!.inputs[j];
        addSite(i, j, x, false, usesKinds(device, reads.params[j].uses), reads.params[j].traffic, respect ? p.type.memory : undefined);
      });
      for (const [w, r] of reads.weights) addSite(i, -1, w, true, usesKinds(device, r.uses), r.traffic);
      return;
    }
    const ins = n.inputs.map(typeOf);
    const outs = n.outputs.map((o) => o.type);
    const tied = isConversionNode(n);
    n.inputs.forEach((x, j) => addSite(i, j, x, tied, operandKinds(device, n.op, j), operandTraffic(n.op, j, ins, outs)));
  });

  const ties: [number, number][] = [];
  if (iface === 'free') {
    for (const v of graph.inputs) {
      const next = index.get(`${v.name}.next`);
      if (next === undefined || !graphOutputs.has(`${v.name}.next`)) continue;
      const a = tensors[index.get(v.name)!];
      const b = tensors[next];
      const both = intersect(a.allowed, b.allowed);
      if (both.length === 0) fail(`state %${a.name} (${a.allowed.join('|')}) and %${b.name} (${b.allowed.join('|')}) must have one kind`);
      a.allowed = both;
      b.allowed = both;
      ties.push([index.get(v.name)!, next]);
    }
  }
  return { device, tensors, sites, ties };
}

type MutableTensor = Omit<LayoutTensor, 'allowed'> & { allowed: readonly MemoryKind[] };

function isConversionNode(n: Node): boolean {
  return n.op === 'mem.to_image' || n.op === 'mem.to_buffer';
}

/** Names read anywhere in the graph (bodies included) or returned. */
function usedNames(graph: Graph): Set<string> {
  const s = new Set<string>(graph.outputs);
  const walk = (nodes: readonly Node[]) => {
    for (const n of nodes) {
      n.inputs.forEach((x) => s.add(x));
      if (n.body) walk(n.body.nodes);
    }
  };
  walk(graph.nodes);
  return s;
}

/** The conversions an assignment implies: one per tensor and kind read other than stored. */
export function conversionsOf(p: LayoutProblem, a: Assignment): { tensor: number; to: MemoryKind }[] {
  const seen = new Set<string>();
  const out: { tensor: number; to: MemoryKind }[] = [];
  p.sites.forEach((s, i) => {
    const k = a.reads[i];
    if (k === a.stored[s.tensor] || seen.has(`${s.tensor}:${k}`)) return;
    seen.add(`${s.tensor}:${k}`);
    out.push({ tensor: s.tensor, to: k });
  });
  return out;
}

/** The cost of a complete assignment; Infinity when it breaks a constraint. */
export function layoutCost(p: LayoutProblem, a: Assignment): number {
  let cost = 0;
  for (let t = 0; t < p.tensors.length; t++) {
    const k = a.stored[t];
    if (!p.tensors[t].allowed.includes(k)) return Infinity;
    cost += p.tensors[t].write[k];
  }
  for (let i = 0; i < p.sites.length; i++) {
    const s = p.sites[i];
    const k = a.reads[i];
    if (!s.allowed.includes(k) || (s.tied && k !== a.stored[s.tensor])) return Infinity;
    cost += s.read[k];
  }
  for (const [x, y] of p.ties) if (a.stored[x] !== a.stored[y]) return Infinity;
  for (const c of conversionsOf(p, a)) cost += p.tensors[c.tensor].convert[c.to];
  return cost;
}
