// The C backend's rules: op kind -> template partial + the context it substitutes.
// Every decision (loop bounds, strides, which kernel, which stored weight form) is
// made here, from the IR; the partials in templates/c/partials only loop and
// substitute. A rule sees its node with every operand already resolved to a C
// expression and a shape, and may ask for a kernel function (deduplicated by
// partial + context) that its call site then names.
import { SsmcError } from '../../errors.ts';
import type { Node } from '../../ir/graph.ts';
import type { TensorType } from '../../ir/types.ts';
import { numel } from '../../ir/types.ts';
import type { PackedTensorInfo } from '../packed/index.ts';

/** A tensor of the weights file as the rules see it: its table entry and index. */
export interface CWeight extends PackedTensorInfo {
  readonly index: number;
  /** C_n^4: name of its segment table in model.c. */
  readonly segTable?: string;
  /** C_n^4: tiles of 4 rows over all segments (the unit the work is split by). */
  readonly tiles: number;
}

/** An operand as a rule sees it. */
export interface Operand {
  /** C expression of the data pointer (`v3`, `sin[0]`, `((const float *)m->w[2])`). */
  readonly expr: string;
  readonly type: TensorType;
  /** Carries a leading per-token axis (prefill values lifted from one-token values). */
  readonly seq: boolean;
  /** Set when the operand is a weight: how the file stores it. */
  readonly weight?: CWeight;
}

export interface Step {
  readonly partial: string;
  readonly ctx: Record<string, unknown>;
}

export interface RuleContext {
  readonly node: Node;
  readonly ins: readonly Operand[];
  readonly outs: readonly Operand[];
  /** `T` in a prefill function for per-token values, `1` otherwise. */
  tokens(o: Operand): string;
  /** Elements per token of a per-token value, or all elements. */
  rowElems(o: Operand): number;
  /** Element count as a C expression (`T * 512` or `512`). */
  count(o: Operand): string;
  /** A kernel function rendered once per distinct (partial, ctx); returns its name. */
  kernel(partial: string, ctx: Record<string, unknown>): string;
}

export type Rule = (c: RuleContext) => Step;

// Ops with an array form in ssmc_kernels.h (ssmc_NAME_n: vector exp, no libm per element).
const UNARY_N: Record<string, string> = { 'ew.silu': 'silu', 'ew.softplus': 'softplus' };
const UNARY: Record<string, string> = {
  'ew.exp': 'expf(v)',
  'ew.neg': '-v',
};
const BINARY: Record<string, string> = { 'ew.add': 'a + b', 'ew.sub': 'a - b', 'ew.mul': 'a * b' };

const wtOf = (w: CWeight) => (w.dtype === 'f16' ? { wt: 'uint16_t', suf: 'f16' } : { wt: 'float', suf: 'f32' });

function cFloat(v: number): string {
  if (!Number.isFinite(v)) throw new SsmcError('E_UNSUPPORTED', `C backend: non-finite attribute ${v}`);
  const s = String(v);
  return /[.eE]/.test(s) ? s : `${s}.0`;
}

function linear(c: RuleContext): Step {
  const [x, w, b] = c.ins;
  const [y] = c.outs;
  const wp = w.weight;
  if (!wp) throw new SsmcError('E_UNSUPPORTED', 'C backend: nn.linear needs a weight (not a computed value) as its matrix', { what: `%${y.type && c.node.outputs[0].name}` });
  const [N, K] = w.type.shape;
  const { wt, suf } = wtOf(wp);
  const call = { x: x.expr, w: `m->w[${wp.index}]`, b: b ? b.expr : 'NULL', y: y.expr, T: c.tokens(x) };
  // C_n^4: the work is split by tiles of 4 rows (rows = tiles * 4, see k_linear_cn4).
  if (wp.layout === 'cn4') return { partial: 'call_linear', ctx: { ...call, fn: c.kernel('k_linear_cn4', { N, K, wt, suf, segs: wp.segTable, nseg: wp.segments!.length }), rows: wp.tiles * 4 } };
  return { partial: 'call_linear', ctx: { ...call, fn: c.kernel(c.tokens(x) === '1' ? 'k_linear_mv' : 'k_linear_mm', { N, K, wt, suf }), rows: N } };
}

export const RULES: Readonly<Record<string, Rule>> = {
  'nn.linear': linear,
  'nn.embedding': (c) => {
    const [table, tokens] = c.ins;
    const [out] = c.outs;
    const [V, d] = table.type.shape;
    if (!table.weight) throw new SsmcError('E_UNSUPPORTED', 'C backend: nn.embedding needs a weight table');
    const { wt, suf } = wtOf(table.weight);
    const ctx = { table: `m->w[${table.weight.index}]`, tokens: tokens.expr, out: out.expr, V, d, wt, suf, T: c.tokens(out) };
    if (table.weight.layout === 'cn4') return { partial: 'embedding_cn4', ctx: { ...ctx, segs: table.weight.segTable, nseg: table.weight.segments!.length } };
    return { partial: 'embedding', ctx };
  },
  'nn.rms_norm': (c) => {
    const [x, w] = c.ins;
    return { partial: 'rms_norm', ctx: { x: x.expr, w: w.expr, out: c.outs[0].expr, d: x.type.shape[x.type.shape.length - 1], eps: cFloat(Number(c.node.attrs.eps)), T: c.tokens(x) } };
  },
  'tensor.split': (c) => {
    const [x] = c.ins;
    const sizes = c.node.attrs.sizes as number[];
    let start = 0;
    const outs = c.outs.map((o, i) => {
      const r = { ptr: o.expr, start, size: sizes[i] };
      start += sizes[i];
      return r;
    });
    const d = x.type.shape[x.type.shape.length - 1];
    return { partial: 'split', ctx: { x: x.expr, d, outs, T: x.seq ? 'T' : String(numel(x.type.shape) / d) } };
  },
  ...Object.fromEntries(
    Object.entries(UNARY).map(([op, expr]): [string, Rule] => [op, (c) => ({ partial: 'ew_unary', ctx: { x: c.ins[0].expr, out: c.outs[0].expr, count: c.count(c.outs[0]), expr } })]),
  ),
  ...Object.fromEntries(
    Object.entries(UNARY_N).map(([op, fn]): [string, Rule] => [op, (c) => ({ partial: 'ew_unary_n', ctx: { x: c.ins[0].expr, out: c.outs[0].expr, count: c.count(c.outs[0]), fn } })]),
  ),
  ...Object.fromEntries(Object.entries(BINARY).map(([op, expr]): [string, Rule] => [op, (c) => binary(c, expr)])),
  'tensor.gather': (c) => {
    const [x, idx] = c.ins;
    const [out] = c.outs;
    const d = x.type.shape[x.type.shape.length - 1];
    const attr = c.node.attrs.indices as number[] | undefined;
    const m = out.type.shape[out.type.shape.length - 1];
    const rows = c.tokens(x);
    if (attr) return { partial: 'gather', ctx: { table: attr.join(', '), idx: '', m, d, rows, x: x.expr, out: out.expr } };
    // A weight's entries were checked against d when the runtime bound the weights.
    const expr = idx.weight ? `((const int32_t *)m->w[${idx.weight.index}])` : `((const int32_t *)${idx.expr})`;
    return { partial: 'gather', ctx: { table: '', idx: expr, bound: Boolean(idx.weight), m, d, rows, x: x.expr, out: out.expr } };
  },
  'ssm.conv1d_step': conv,
  'ssm.conv1d': conv,
  'ssm.scan_step': scan,
  'ssm.scan': scan,
};

function binary(c: RuleContext, expr: string): Step {
  const [a, b] = c.ins;
  const [out] = c.outs;
  const full = (o: Operand) => o.seq === out.seq && numel(o.type.shape) === numel(out.type.shape);
  const ctx = { a: a.expr, b: b.expr, out: out.expr, expr };
  if (full(a) && full(b)) return { partial: 'ew_binary', ctx: { ...ctx, outer: 1, inner: `(${c.count(out)})`, aStride: 0, bStride: 0 } };
  const small = full(a) ? b : a;
  if (small.seq) throw new SsmcError('E_UNSUPPORTED', `C backend: ${c.node.op} broadcasts a per-token operand`);
  const inner = numel(small.type.shape);
  const row = c.rowElems(out);
  if (row % inner !== 0 && out.seq) throw new SsmcError('E_UNSUPPORTED', `C backend: ${c.node.op} broadcast of ${inner} elements into rows of ${row}`);
  const outer = out.seq ? `T * ${row / inner}` : String(numel(out.type.shape) / inner);
  return { partial: 'ew_binary', ctx: { ...ctx, outer, inner, aStride: small === a ? 0 : inner, bStride: small === b ? 0 : inner } };
}

function conv(c: RuleContext): Step {
  const [si, x, w, b] = c.ins;
  const [y, so] = c.outs;
  const [e, k] = w.type.shape;
  return { partial: 'conv1d', ctx: { si: si.expr, x: x.expr, w: w.expr, b: b ? b.expr : 'NULL', y: y.expr, so: so.expr, e, k, T: c.tokens(x) } };
}

function scan(c: RuleContext): Step {
  const [si, x, dt, A, B, C] = c.ins;
  const [y, so] = c.outs;
  const [e, s] = A.type.shape;
  return { partial: 'scan', ctx: { si: si.expr, x: x.expr, dt: dt.expr, A: A.expr, B: B.expr, C: C.expr, y: y.expr, so: so.expr, e, s, T: c.tokens(x) } };
}
