// Solvers for a LayoutProblem (problem.ts).
//
// minCutLayout: exact. Label 0 = buffer (source side), 1 = image2d (sink side). Every
// term of the cost is a function of at most two binary variables, and every pairwise
// term is submodular (θ(0,0) + θ(1,1) <= θ(0,1) + θ(1,0)), so the minimum s-t cut of
// the network below is the minimum cost (Kolmogorov & Zabih, "What energy functions
// can be minimized via graph cuts?", 2004):
//   x_t   stored kind of tensor t      unary: write cost (+ reads of its tied sites)
//   y_s   read kind of untied site s   unary: read cost
//   I_t   "t exists as an image"       x_t = 0, I_t = 1 costs convert[image] (edge x_t -> I_t)
//                                      y_s = 1, I_t = 0 is forbidden        (edge I_t -> y_s, ∞)
//   N_t   "t does NOT exist as a buffer"
//                                      x_t = 1, N_t = 0 costs convert[buffer] (edge N_t -> x_t)
//                                      y_s = 0, N_t = 1 is forbidden          (edge y_s -> N_t, ∞)
//   ties  x_a = x_b                    (edges a -> b and b -> a, ∞)
// A conversion is thus paid once per tensor and kind however many sites read it, and
// disallowed kinds are ∞ unary terms. Each pairwise term has one non-zero entry at
// (0,1) or (1,0) with a non-negative (or ∞) value: submodular. The availability
// variables never lower the cost below a real assignment's (an image copy exists iff
// paid for or stored), so cut value = min over (x, y) of layoutCost.
//
// localLayout: the baseline a layout-unaware backend gets: every tensor stored in its
// producer's cheapest kind (weights and inputs: their readers' cheapest), every kernel
// reading in its own cheapest kind, conversions wherever the two differ.
import type { MemoryKind } from '../../ir/types.ts';
import { SsmcError } from '../../errors.ts';
import { FlowNetwork } from './min-cut.ts';
import type { Assignment, LayoutProblem } from './problem.ts';
import { layoutCost } from './problem.ts';

export interface LayoutSolution extends Assignment {
  readonly cost: number;
}

export function minCutLayout(p: LayoutProblem): LayoutSolution {
  const T = p.tensors.length;
  const untied = p.sites.map((s, i) => i).filter((i) => !p.sites[i].tied);
  // Node ids: s, t, x_t (T), y_s (untied), I_t and N_t (T each).
  const S = 0;
  const SINK = 1;
  const x = (t: number) => 2 + t;
  const yId = new Map(untied.map((i, k) => [i, 2 + T + k]));
  const img = (t: number) => 2 + T + untied.length + t;
  const noBuf = (t: number) => 2 + 2 * T + untied.length + t;
  const net = new FlowNetwork(2 + 3 * T + untied.length);
  const unary = (v: number, c0: number, c1: number) => {
    // v on the source side (0) cuts v -> sink; on the sink side (1) cuts s -> v.
    const m = Math.min(c0, c1);
    if (m === Infinity) throw new SsmcError('E_PASS', `select-layout: a variable has no allowed kind`);
    net.addEdge(S, v, c1 - m);
    net.addEdge(v, SINK, c0 - m);
    return m;
  };
  const price = (allowed: readonly MemoryKind[], k: MemoryKind, c: number) => (allowed.includes(k) ? c : Infinity);
  let constant = 0;
  const tiedRead = p.tensors.map(() => ({ buffer: 0, image2d: 0 }));
  for (const s of p.sites) {
    if (!s.tied) continue;
    tiedRead[s.tensor].buffer += price(s.allowed, 'buffer', s.read.buffer);
    tiedRead[s.tensor].image2d += price(s.allowed, 'image2d', s.read.image2d);
  }
  p.tensors.forEach((t, i) => {
    constant += unary(x(i), price(t.allowed, 'buffer', t.write.buffer + tiedRead[i].buffer), price(t.allowed, 'image2d', t.write.image2d + tiedRead[i].image2d));
    net.addEdge(x(i), img(i), t.convert.image2d);
    net.addEdge(noBuf(i), x(i), t.convert.buffer);
  });
  for (const i of untied) {
    const s = p.sites[i];
    const y = yId.get(i)!;
    constant += unary(y, price(s.allowed, 'buffer', s.read.buffer), price(s.allowed, 'image2d', s.read.image2d));
    net.addEdge(img(s.tensor), y, Infinity);
    net.addEdge(y, noBuf(s.tensor), Infinity);
  }
  for (const [a, b] of p.ties) {
    net.addEdge(x(a), x(b), Infinity);
    net.addEdge(x(b), x(a), Infinity);
  }
  const flow = net.maxFlow(S, SINK);
  if (flow === Infinity) throw new SsmcError('E_PASS', `select-layout (${p.device.name}): the constraints admit no layout`);
  const side = net.sourceSide(S);
  const kind = (v: number): MemoryKind => (side[v] ? 'buffer' : 'image2d');
  const stored = p.tensors.map((_, i) => kind(x(i)));
  const reads = p.sites.map((s, i) => (s.tied ? stored[s.tensor] : kind(yId.get(i)!)));
  const a = { stored, reads };
  const cost = layoutCost(p, a);
  // The decoded assignment is priced independently; it must equal the cut value.
  const cut = constant + flow;
  if (!(Math.abs(cost - cut) <= 1e-9 * Math.max(1, Math.abs(cut)))) {
    throw new SsmcError('E_INTERNAL', `select-layout: min cut ${cut} but its assignment costs ${cost}`);
  }
  return { ...a, cost };
}

export function localLayout(p: LayoutProblem): LayoutSolution {
  const cheapest = (allowed: readonly MemoryKind[], c: (k: MemoryKind) => number): MemoryKind =>
    allowed.length === 1 ? allowed[0] : c('image2d') < c('buffer') ? 'image2d' : 'buffer';
  const readsOf = (t: number) => p.sites.filter((s) => s.tensor === t);
  const stored = p.tensors.map((t, i) => {
    const tied = readsOf(i).filter((s) => s.tied);
    const sum = (k: MemoryKind, all: boolean) => (all ? readsOf(i) : tied).reduce((a, s) => a + s.read[k], 0);
    const produced = t.role === 'result';
    return cheapest(t.allowed, (k) => (produced ? t.write[k] + sum(k, false) : sum(k, true)));
  });
  for (const [a, b] of p.ties) if (stored[a] !== stored[b]) stored[a] = stored[b] = p.tensors[a].allowed[0];
  const reads = p.sites.map((s) => {
    if (s.tied) return stored[s.tensor];
    const can = s.allowed.filter((k) => k === stored[s.tensor] || p.tensors[s.tensor].convert[k] < Infinity);
    return cheapest(can, (k) => s.read[k]);
  });
  const a = { stored, reads };
  return { ...a, cost: layoutCost(p, a) };
}

/** Everything stored and read as a buffer: what a backend does with no layout pass. */
export function allBufferLayout(p: LayoutProblem): LayoutSolution {
  const a = { stored: p.tensors.map((): MemoryKind => 'buffer'), reads: p.sites.map((): MemoryKind => 'buffer') };
  return { ...a, cost: layoutCost(p, a) };
}
