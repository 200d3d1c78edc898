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
