// The OpenCL backend's rules: op kind -> kernel partial + context + how many work
// items a launch needs. Every decision (which kernel, strides, memory kind of each
// operand, how weights are stored) is made here from the IR; templates/opencl/partials
// only loop and substitute. A work item produces one texel (4 consecutive values of the
// last dimension) of its output, so image2d and buffer outputs share every kernel.
import { SsmcError } from '../../errors.ts';
import type { Node } from '../../ir/graph.ts';
import { numel } from '../../ir/types.ts';
import { valueBytes } from '../packed/index.ts';
import { cn4ImageLayout, segmentTable, SEG } from './cn4-image.ts';
import type { ClOperand, ClWeight, Param } from './operands.ts';
import { compactImage, input, output, packedBytes, rawBuffer, signature } from './operands.ts';

/** Work items of a launch: `perT * T + fixed` (T: tokens of a prefill call; 1 in decode). */
export interface Items {
  readonly perT: number;
  readonly fixed: number;
}

export interface Launch {
  readonly partial: string;
  readonly ctx: Record<string, unknown>;
  /** Value bound to each kernel parameter, in order (T is appended by the runtime). */
  readonly args: readonly string[];
  readonly items: Items;
  /** Program-scope declarations the kernel's macros use (emitted once per program). */
  readonly globals?: readonly string[];
}

/** How matrix-vector kernels reduce (from the device table; see matvecGroup). */
export interface MatvecTuning {
  /** Largest work-group of a reduction over K (a power of two); < 2: never one. */
  readonly workGroup: number;
  /** Texels each work item reduces at least, serially, before the tree. */
  readonly minTexelsPerItem: number;
}

export interface RuleContext {
  readonly node: Node;
  readonly ins: readonly ClOperand[];
  readonly outs: readonly ClOperand[];
  readonly matvec?: MatvecTuning;
}

/**
 * Work-group size of a matvec reducing `texels` texels per output row: the largest
 * power of two <= the table's work-group with at least `minTexelsPerItem` texels per
 * item (a tree of local-memory sums then costs log2 of it), 0 for one work item per 4
 * rows (short reductions, or a table that says none).
 */
export function matvecGroup(texels: number, t: MatvecTuning | undefined): number {
  if (!t || t.workGroup < 2) return 0;
  let wg = 1;
  while (wg * 2 <= t.workGroup && (wg * 2) * t.minTexelsPerItem <= texels) wg *= 2;
  return wg >= 2 ? wg : 0;
}

/** Template context of a (possibly work-group) reduction: size, items per output texel. */
const wgCtx = (wg: number) => ({ wg, L: Math.max(1, wg), lid: wg ? 'get_local_id(0)' : '0' });

export type Rule = (c: RuleContext) => Launch[];

const q4 = (n: number) => Math.max(1, Math.ceil(n / 4));

/** `rows * per` work items, rows being an operand's row expression. */
function itemsOf(o: ClOperand, per: number): Items {
  if (o.rows === 'T') return { perT: per, fixed: 0 };
  const m = /^\(T \* (\d+)\)$/.exec(o.rows);
  if (m) return { perT: Number(m[1]) * per, fixed: 0 };
  return { perT: 0, fixed: Number(o.rows) * per };
}

function clFloat(v: number): string {
  if (!Number.isFinite(v)) throw new SsmcError('E_UNSUPPORTED', `OpenCL backend: non-finite attribute ${v}`);
  const s = String(v);
  return `${/[.eE]/.test(s) ? s : `${s}.0`}f`;
}

function launch(partial: string, params: Param[], ctx: Record<string, unknown>, items: Items): Launch {
  const sig = signature(params);
  // Launches are rounded up to whole work-groups (one fixed size, so a driver such as
  // PoCL compiles each kernel once): work items past `limit` return at once.
  const limit = items.perT ? `${items.perT} * T + ${items.fixed}` : String(items.fixed);
  return { partial, ctx: { ...ctx, limit, params: sig.params, defs: sig.defs, undefs: sig.undefs }, args: sig.args, items, globals: sig.globals };
}

/**
 * An elementwise kernel over `out`: each listed load binds a variable, `expr` combines
 * them. Unary and binary ops, split, copy and the mem.* conversions are all this.
 */
function map(out: ClOperand, params: Param[], loads: Array<{ v: string; e: string }>, expr: string, pre = ''): Launch {
  return launch('ew_map', [...params, output('y', out)], { d: out.d, G4: q4(out.d), loads, expr, pre }, itemsOf(out, q4(out.d)));
}

/** How an operand of an elementwise op is read at (r, c) of an output it broadcasts into. */
export function broadcastLoad(name: string, o: ClOperand, out: ClOperand, op: string): string {
  if (o.seq === out.seq && numel(o.type.shape) === numel(out.type.shape) && o.d === out.d) return `${name}_ld(r, c)`;
  if (o.type.shape.length === 0 || numel(o.type.shape) === 1) return `${name}_ld(0, 0)`;
  if (o.seq) throw new SsmcError('E_UNSUPPORTED', `OpenCL backend: ${op} broadcasts a per-token operand %${o.value}`);
  if (o.d !== out.d) throw new SsmcError('E_UNSUPPORTED', `OpenCL backend: ${op} broadcasts %${o.value} (last dim ${o.d}) into rows of ${out.d}`);
  return `${name}_ld(r % ${o.rows}, c)`;
}

export const UNARY: Record<string, string> = {
  'ew.silu': 'v / (1.0f + exp(-v))',
  'ew.softplus': 'v > 20.0f ? v : log1p(exp(v))',
  'ew.exp': 'exp(v)',
  'ew.neg': '-v',
};
// Loaded into p and q: a variable named like its parameter would shadow it in its own initializer.
export const BINARY: Record<string, string> = { 'ew.add': 'p + q', 'ew.sub': 'p - q', 'ew.mul': 'p * q' };

const identity: Rule = (c) => [map(c.outs[0], [input('x', c.ins[0])], [{ v: 'v', e: 'x_ld(r, c)' }], 'v')];

function linear(c: RuleContext): Launch[] {
  const [x, w, b] = c.ins;
  const [y] = c.outs;
  const wp = w.weight;
  if (!wp) throw new SsmcError('E_UNSUPPORTED', 'OpenCL backend: nn.linear needs a weight (not a computed value) as its matrix', { what: `%${y.value}` });
  const [N, K] = w.type.shape;
  const ctx = { N, K, GK: q4(K), NQ: q4(N), bias: Boolean(b) };
  const bias = b ? [input('b', b)] : [];
  if (wp.layout === 'cn4') {
    const img = cn4ImageLayout(wp);
    // The reduction's length: packed tiles are walked group by group; a compact image
    // texel by texel (n = 1: by 3 texels), the longest segment's loop deciding.
    const steps = (n: number) => (n === 0 ? q4(K) : n === 2 ? Math.ceil(img.groups / 2) : Math.ceil(img.groups / 4));
    const loop = wp.memory === 'image2d' ? Math.max(1, ...img.segments.filter((s) => s.n < 4).map((s) => steps(s.n))) : img.groups;
    const wg = matvecGroup(loop, c.matvec);
    const cctx = { ...ctx, ...cn4Ctx(wp), ...wgCtx(wg), suf: wp.dtype };
    const items = itemsOf(x, q4(N) * Math.max(1, wg));
    if (wp.memory === 'image2d') return [launch('linear_cn4i', [input('x', x), compactImage('w', w), ...bias, output('y', y)], { ...cctx, lw: img.log2Width }, items)];
    return [launch('linear_cn4', [input('x', x), packedBytes('w', w), ...bias, output('y', y)], { ...cctx, ct: wp.dtype === 'f16' ? 'half' : 'float', vb: valueBytes(wp.dtype) }, items)];
  }
  // Dense: buffer (f32 or f16) or image.
  const wg = matvecGroup(q4(K), c.matvec);
  return [launch('linear_dense', [input('x', x), input('w', w), ...bias, output('y', y)], { ...ctx, ...wgCtx(wg) }, itemsOf(x, q4(N) * Math.max(1, wg)))];
}

/** The segment table of a C_n^4 weight as the kernels read it (see prelude: ssmc_cn4_find). */
export function cn4Ctx(w: ClWeight): Record<string, unknown> {
  const img = cn4ImageLayout(w);
  return { G: img.groups, tail: img.tail, nseg: Math.max(1, img.segments.length), seg: SEG, segs: segmentTable(img) };
}

function embedding(c: RuleContext): Launch[] {
  const [table, tokens] = c.ins;
  const [out] = c.outs;
  const tw = table.weight;
  if (!tw) throw new SsmcError('E_UNSUPPORTED', 'OpenCL backend: nn.embedding needs a weight table');
  const [V, d] = table.type.shape;
  const tok: Param = { decls: ['__global const int *tok'], defs: [], names: [], values: [tokens.value] };
  const ctx = { V, d, G4: q4(d) };
  const items = itemsOf(out, q4(d));
  if (tw.layout === 'cn4' && tw.memory === 'buffer') return [launch('embedding_cn4', [packedBytes('w', table), tok, output('y', out)], { ...ctx, ...cn4Ctx(tw), suf: tw.dtype }, items)];
  if (tw.layout === 'cn4') return [launch('embedding_cn4i', [compactImage('w', table), tok, output('y', out)], { ...ctx, ...cn4Ctx(tw), suf: tw.dtype, lw: cn4ImageLayout(tw).log2Width }, items)];
  return [launch('embedding', [input('w', table), tok, output('y', out)], ctx, items)];
}

function conv(c: RuleContext): Launch[] {
  const [si, x, w, b] = c.ins;
  const [y, so] = c.outs;
  const [e, k] = w.type.shape;
  const params = [rawBuffer('si', si, false), input('x', x), input('w', w), ...(b ? [input('b', b)] : []), output('y', y), rawBuffer('so', so, true)];
  return [launch('conv1d', params, { e, k, Q: q4(e), bias: Boolean(b), steps: x.rows }, { perT: 0, fixed: q4(e) })];
}

function scan(c: RuleContext): Launch[] {
  const [si, x, dt, A, B, C] = c.ins;
  const [y, so] = c.outs;
  const [e, s] = A.type.shape;
  const params = [rawBuffer('si', si, false), input('x', x), input('dt', dt), input('A', A), input('B', B), input('C', C), output('y', y), rawBuffer('so', so, true)];
  return [launch('scan', params, { e, s, Q: q4(e), steps: x.rows }, { perT: 0, fixed: q4(e) })];
}

export const RULES: Readonly<Record<string, Rule>> = {
  'nn.linear': linear,
  'nn.embedding': embedding,
  'nn.rms_norm': (c) => {
    const [x, w] = c.ins;
    const [y] = c.outs;
    return [launch('rms_norm', [input('x', x), input('w', w), output('y', y)], { d: x.d, G4: q4(x.d), eps: clFloat(Number(c.node.attrs.eps)) }, itemsOf(x, 1))];
  },
  'tensor.split': (c) => {
    const [x] = c.ins;
    const sizes = c.node.attrs.sizes as number[];
    let start = 0;
    return c.outs.map((o, i) => {
      const l = map(o, [input('x', x)], [{ v: 'v', e: `x_ld(r, ${start} + c)` }], 'v');
      start += sizes[i];
      return l;
    });
  },
  'tensor.gather': (c) => {
    const [x, idx] = c.ins;
    const [out] = c.outs;
    const attr = c.node.attrs.indices as number[] | undefined;
    if (attr) return [map(out, [input('x', x)], [{ v: 'v', e: 'x_ld(r, ssmc_idx[c])' }], 'v', `__constant int ssmc_idx[${attr.length}] = { ${attr.join(', ')} };`)];
    // Indices from an i32 tensor: clamped (the interpreter rejects bad ones; a kernel cannot).
    return [map(out, [input('x', x), input('ix', idx)], [{ v: 'v', e: `x_ld(r, clamp(ix_ld(0, c), 0, ${x.d - 1}))` }], 'v')];
  },
  copy: identity,
  'mem.to_image': identity,
  'mem.to_buffer': identity,
  ...Object.fromEntries(Object.entries(UNARY).map(([op, expr]): [string, Rule] => [op, (c) => [map(c.outs[0], [input('x', c.ins[0])], [{ v: 'v', e: 'x_ld(r, c)' }], expr)]])),
  ...Object.fromEntries(
    Object.entries(BINARY).map(([op, expr]): [string, Rule] => [
      op,
      (c) => {
        const [a, b] = c.ins;
        const [out] = c.outs;
        return [map(out, [input('a', a), input('b', b)], [{ v: 'p', e: broadcastLoad('a', a, out, op) }, { v: 'q', e: broadcastLoad('b', b, out, op) }], expr)];
      },
    ]),
  ),
  'ssm.conv1d_step': conv,
  'ssm.conv1d': conv,
  'ssm.scan_step': scan,
  'ssm.scan': scan,
};
