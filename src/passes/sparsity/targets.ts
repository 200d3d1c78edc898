// Which weights sparsify-cn4 prunes: the weight operands of top-level `nn.linear` nodes
// whose kind (the weight name without its `l<i>.` block prefix: in_proj, x_proj,
// dt_proj, out_proj, embedding for the tied head, lm_head) is selected, in graph order.
import { SsmcError } from '../../errors.ts';
import type { Graph } from '../../ir/graph.ts';
import { walkNodes } from '../../ir/graph.ts';
import type { DType } from '../../ir/types.ts';
import type { WeightArray } from '../../ir/weights.ts';
import { decodeBf16Array, decodeF16Array, encodeBf16Array, encodeF16Array } from '../../util/half.ts';
import { checkGroupWidth } from './masks.ts';

export const DEFAULT_LAYERS = 'in_proj,x_proj,dt_proj,out_proj';

export interface PruneTarget {
  /** Weight name, e.g. `l3.x_proj`. */
  readonly weight: string;
  /** Matrix kind, e.g. `x_proj`. */
  readonly kind: string;
  /** Name of the linear layer's input value (whose statistics calibration collects). */
  readonly input: string;
  readonly rows: number;
  readonly cols: number;
  readonly dtype: DType;
}

export function weightKind(name: string): string {
  return name.replace(/^l\d+\./, '');
}

/** `in_proj,x_proj` (quoted in a pipeline) or `in_proj+x_proj` (bare). */
export function parseLayers(spec: string): string[] {
  const kinds = spec.split(/[,+\s]+/).filter((s) => s !== '');
  if (!kinds.length) throw new SsmcError('E_PIPELINE', `option 'layers' of pass 'sparsify-cn4' names no layer kind`);
  return [...new Set(kinds)];
}

export function findTargets(graph: Graph, kinds: readonly string[]): PruneTarget[] {
  const decls = new Map(graph.weights.map((w) => [w.name, w]));
  const linearUses = new Map<string, number>();
  for (const n of walkNodes(graph)) if (n.op === 'nn.linear' && decls.has(n.inputs[1])) linearUses.set(n.inputs[1], (linearUses.get(n.inputs[1]) ?? 0) + 1);
  const available = new Set([...linearUses.keys()].map(weightKind));
  for (const k of kinds) {
    if (!available.has(k)) {
      throw new SsmcError('E_PIPELINE', `option 'layers' of pass 'sparsify-cn4': no linear layer of kind '${k}' in @${graph.name}; kinds here: ${[...available].sort().join(', ') || '(none)'}`);
    }
  }
  const want = new Set(kinds);
  const out: PruneTarget[] = [];
  for (const n of graph.nodes) {
    if (n.op !== 'nn.linear') continue;
    const name = n.inputs[1];
    const decl = decls.get(name);
    if (!decl || !want.has(weightKind(name))) continue;
    if (linearUses.get(name) !== 1) {
      throw new SsmcError('E_PASS', `weight @${name} feeds ${linearUses.get(name)} linear layers (or one inside a fused body); sparsify-cn4 prunes weights used by exactly one top-level linear (run it before fuse-ops)`);
    }
    const [rows, cols] = decl.type.shape;
    checkGroupWidth(cols, `weight @${name} [${rows},${cols}]`);
    out.push({ weight: name, kind: weightKind(name), input: n.inputs[0], rows, cols, dtype: decl.type.dtype });
  }
  for (const name of linearUses.keys()) {
    if (want.has(weightKind(name)) && !out.some((t) => t.weight === name)) {
      throw new SsmcError('E_PASS', `weight @${name} is used by a linear inside a fused body; run sparsify-cn4 before fuse-ops`);
    }
  }
  return out;
}

/** Weight data as f64 (f16/bf16 decoded exactly). */
export function toF64(a: WeightArray, dtype: DType): Float64Array {
  if (dtype === 'f16') return Float64Array.from(decodeF16Array(a as Uint16Array));
  if (dtype === 'bf16') return Float64Array.from(decodeBf16Array(a as Uint16Array));
  return Float64Array.from(a as Float32Array);
}

/** f64 back to the storage dtype (zeros stay exact zeros in every format). */
export function fromF64(a: Float64Array, dtype: DType): WeightArray {
  if (dtype === 'f16') return encodeF16Array(a);
  if (dtype === 'bf16') return encodeBf16Array(a);
  return Float32Array.from(a);
}
