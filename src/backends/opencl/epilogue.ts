// Epilogue fusion over the flattened graph: an elementwise op (ew.*, or a copy) whose
// input is produced by the kernel just computed, and used nowhere else, is folded into
// that kernel's store (operands.ts: output with an epilogue), so the intermediate is
// never written and one launch is saved. This is how a fused group such as
// linear_softplus, linear_add or scan_step_mul_add_silu_mul becomes one kernel: the
// rule is general (any producer whose result goes through `y_st4`, any chain of
// single-use elementwise consumers of the same shape), not a list of patterns.
// The producer moves down to the folded op's place, which is legal when nothing in
// between reads its other results. mem.* conversions are never folded: they are the
// IR's explicit decision and are counted as kernels.
//
// kernelsOf (below) adds the two other ways a value escapes being stored: views
// (splits and embeddings, read in place through their source) and inlining (an
// elementwise op read element by element by its only reader is recomputed there).
// Together they make each fuse-ops group one kernel, decided by op classes alone.
import type { Value } from '../../ir/graph.ts';
import { shapeEqual } from '../../ir/types.ts';
import type { FlatNode } from '../flatten.ts';

const FOLDABLE = new Set(['ew.silu', 'ew.softplus', 'ew.exp', 'ew.neg', 'ew.add', 'ew.sub', 'ew.mul', 'copy']);
/** Outputs stored through the generic output macro (conv and scan state are raw buffers). */
const storedOutputs = (op: string, n: number) => (op === 'ssm.conv1d_step' || op === 'ssm.conv1d' || op === 'ssm.scan_step' || op === 'ssm.scan' ? [0] : Array.from({ length: n }, (_, i) => i));

export interface EpilogueStep {
  readonly node: FlatNode;
  /** Which input of the op is the running value. */
  readonly index: number;
}

export interface Entry {
  readonly anchor: FlatNode;
  /** Per folded output of the anchor: the value finally stored and the folded ops. */
  readonly epilogues: Map<string, { result: Value; steps: EpilogueStep[] }>;
}

/** Every input an entry reads: the anchor's and the folded ops' other operands. */
export function entryInputs(e: Entry): string[] {
  const out = [...e.anchor.inputs];
  for (const ep of e.epilogues.values()) for (const s of ep.steps) s.node.inputs.forEach((x, i) => i !== s.index && out.push(x));
  return out;
}

/** The values an entry defines (the anchor's outputs, folded ones replaced by their result). */
export function entryOutputs(e: Entry): Value[] {
  return e.anchor.outputs.map((v) => e.epilogues.get(v.name)?.result ?? v);
}

export function fuseEpilogues(flat: readonly FlatNode[], keep: ReadonlySet<string>): Entry[] {
  const uses = new Map<string, number>();
  for (const f of flat) for (const x of f.inputs) uses.set(x, (uses.get(x) ?? 0) + 1);
  const out: Entry[] = [];
  /** Visible value -> [entry, the anchor output it stands for]. */
  const producer = new Map<string, [Entry, string]>();
  for (const f of flat) {
    const target = FOLDABLE.has(f.op) ? fold(f) : undefined;
    if (target) continue;
    const e: Entry = { anchor: f, epilogues: new Map() };
    out.push(e);
    const stored = new Set(storedOutputs(f.op, f.outputs.length).map((i) => f.outputs[i]?.name));
    for (const v of f.outputs) if (stored.has(v.name)) producer.set(v.name, [e, v.name]);
  }
  return out;

  function fold(f: FlatNode): true | undefined {
    for (let idx = 0; idx < f.inputs.length; idx++) if (tryFold(f, idx)) return true;
    return undefined;
  }

  function tryFold(f: FlatNode, idx: number): boolean {
    const v = f.inputs[idx];
    const p = producer.get(v);
    if (!p || f.inputs.filter((x) => x === v).length !== 1 || uses.get(v) !== 1 || keep.has(v)) return false;
    const [e, anchorOut] = p;
    const vValue = entryOutputs(e).find((o) => o.name === v);
    if (!vValue || !shapeEqual(vValue.type.shape, f.outputs[0].type.shape)) return false;
    // Nothing after the producer may read its other results (it moves down to here).
    const at = out.indexOf(e);
    const others = new Set(entryOutputs(e).map((o) => o.name).filter((n) => n !== v));
    if (out.slice(at + 1).some((x) => entryInputs(x).some((n) => others.has(n))) || f.inputs.some((n) => others.has(n))) return false;
    const ep = e.epilogues.get(anchorOut) ?? { result: vValue, steps: [] };
    ep.steps.push({ node: f, index: idx });
    ep.result = f.outputs[0];
    e.epilogues.set(anchorOut, ep);
    producer.delete(v);
    producer.set(f.outputs[0].name, [e, anchorOut]);
    out.splice(at, 1);
    out.push(e);
    return true;
  }
}

/**
 * A value no kernel stores. `view`: read in place through another value's memory
 * (a tensor.split result: columns `off ..` of `of`; an nn.embedding result: rows
 * `of[tokens[r]]` of its table, dense or C_n^4). `expr`: an elementwise entry (its op and folded steps)
 * recomputed by its only reader, which reads it element by element.
 */
export type Virtual =
  | { readonly kind: 'view'; readonly node: FlatNode; readonly of: string; readonly off: number; readonly tokens?: string }
  | { readonly kind: 'expr'; readonly node: FlatNode; readonly entry: Entry };

const ELEMENTWISE = new Set(['ew.silu', 'ew.softplus', 'ew.exp', 'ew.neg', 'ew.add', 'ew.sub', 'ew.mul', 'copy']);
/** Inputs a kernel reads as raw state buffers (never through the operand macros). */
const rawInput = (op: string, i: number) => i === 0 && (op === 'ssm.conv1d_step' || op === 'ssm.conv1d' || op === 'ssm.scan_step' || op === 'ssm.scan');
/** Readers that read each element of an input a bounded number of times (so a gather through a view costs no more than a stored copy). */
const readsOnce = (op: string, i: number) => ELEMENTWISE.has(op) || (op === 'nn.rms_norm' && i === 0);

/**
 * The kernels of a flattened graph: splits and embeddings become views
 * (no kernel; readers address the source), single-use elementwise ops fold into their
 * producer's store (fuseEpilogues), and an elementwise entry left whose only reader
 * reads it element by element (an elementwise kernel, or a folded step's other
 * operand) is inlined into that reader's load. `stored`: values that must be written
 * (graph outputs, state, tokens). `weights`: weight name -> how it is stored.
 */
export function kernelsOf(flat: readonly FlatNode[], stored: ReadonlySet<string>, weights: ReadonlyMap<string, { readonly layout: string }>): { entries: Entry[]; virtuals: Map<string, Virtual> } {
  const uses = new Map<string, Array<{ node: FlatNode; index: number }>>();
  for (const f of flat) f.inputs.forEach((x, index) => uses.set(x, [...(uses.get(x) ?? []), { node: f, index }]));
  const virtuals = new Map<string, Virtual>();
  const viewable = (v: Value, cheap: (op: string, i: number) => boolean) => !stored.has(v.name) && v.type.dtype === 'f32' && (uses.get(v.name) ?? []).every((u) => !rawInput(u.node.op, u.index) && cheap(u.node.op, u.index));
  const rest: FlatNode[] = [];
  for (const f of flat) {
    const x = f.inputs[0];
    if (f.op === 'tensor.split' && !weights.has(x) && f.outputs.every((v) => viewable(v, () => true))) {
      const base = virtuals.get(x);
      let off = 0;
      f.outputs.forEach((v, i) => {
        virtuals.set(v.name, base?.kind === 'view' && !base.tokens ? { kind: 'view', node: f, of: base.of, off: base.off + off } : { kind: 'view', node: f, of: x, off });
        off += (f.node.attrs.sizes as number[])[i];
      });
      continue;
    }
    if (f.op === 'nn.embedding' && weights.has(x) && viewable(f.outputs[0], readsOnce)) {
      virtuals.set(f.outputs[0].name, { kind: 'view', node: f, of: x, off: 0, tokens: f.inputs[1] });
      continue;
    }
    rest.push(f);
  }
  const entries = fuseEpilogues(rest, stored);
  const viewSources = new Set([...virtuals.values()].flatMap((v) => (v.kind === 'view' ? [v.of, v.tokens ?? ''] : [])));
  const numelOf = (v: Value) => v.type.shape.reduce((a, b) => a * b, 1);
  const sameSpace = (a: Value, b: Value) => numelOf(a) === numelOf(b) && (a.type.shape.at(-1) ?? 1) === (b.type.shape.at(-1) ?? 1);
  // Who reads each value among the entries: the reading op's output, and whether the op is elementwise.
  const readers = new Map<string, Array<{ out: Value; elementwise: boolean }>>();
  const addReader = (x: string, out: Value, elementwise: boolean) => readers.set(x, [...(readers.get(x) ?? []), { out, elementwise }]);
  for (const e of entries) {
    const a = e.anchor;
    a.inputs.forEach((x) => addReader(x, a.outputs[0], ELEMENTWISE.has(a.op)));
    for (const ep of e.epilogues.values()) for (const s of ep.steps) s.node.inputs.forEach((x, i) => i !== s.index && addReader(x, s.node.outputs[0], true));
  }
  const out: Entry[] = [];
  for (const e of entries) {
    const r = entryOutputs(e)[0];
    const rd = readers.get(r.name) ?? [];
    if (ELEMENTWISE.has(e.anchor.op) && e.anchor.outputs.length === 1 && !stored.has(r.name) && !viewSources.has(r.name) && rd.length === 1 && rd[0].elementwise && sameSpace(rd[0].out, r)) {
      virtuals.set(r.name, { kind: 'expr', node: e.anchor, entry: e });
      continue;
    }
    out.push(e);
  }
  return { entries: out, virtuals };
}
