// How much memory traffic a kernel causes on each tensor it reads or writes: the
// per-tensor terms of the layout cost. The op registry's `cost` gives one byte total
// per node; layout needs it per operand and needs to know how often the same bytes are
// fetched again by other work-items (that is where an image's texture cache pays), so
// this file refines it per op kind. Anything not listed reads each operand once.
//
// Traffic is linear: `first` bytes fetched once, `again` bytes fetched again from
// cache. A fused kernel's traffic on a parameter is the sum over its body's uses.
import type { Region } from '../../ir/graph.ts';
import { findOp } from '../../ir/op-registry.ts';
import type { MemoryKind, TensorType } from '../../ir/types.ts';
import { dtypeBytes, numel } from '../../ir/types.ts';
import type { DeviceDesc } from '../devices/index.ts';

export interface Traffic {
  /** Bytes fetched the first time. */
  readonly first: number;
  /** Bytes fetched again by other work-items (cache hits). */
  readonly again: number;
}

export const NO_TRAFFIC: Traffic = { first: 0, again: 0 };

export function addTraffic(a: Traffic, b: Traffic): Traffic {
  return { first: a.first + b.first, again: a.again + b.again };
}

export function valueBytes(t: TensorType): number {
  return numel(t.shape) * dtypeBytes(t.dtype);
}

/** `bytes` unique bytes, each fetched by `reuse` work-items. */
function traffic(bytes: number, reuse = 1): Traffic {
  return { first: bytes, again: bytes * Math.max(0, reuse - 1) };
}

/** Fraction of a C_n^4 weight's values that are stored (n of every 4 are pruned). */
function keptFraction(t: TensorType): number {
  if (!t.cn4 || t.cn4.length === 0) return 1;
  return t.cn4.reduce((a, n) => a + (4 - n), 0) / (4 * t.cn4.length);
}

/**
 * Traffic of one (non-fused) op on its operand `j`, from its input types `ins` and
 * output types `outs`. Reuse counts the work-items (output rows / channels) that read
 * the same bytes, which is how a GPU kernel of that op is laid out.
 */
export function operandTraffic(op: string, j: number, ins: readonly TensorType[], outs: readonly TensorType[]): Traffic {
  const t = ins[j];
  const bytes = valueBytes(t);
  switch (op) {
    case 'nn.linear': {
      // One work-item per output row: every row reads all of x; weight rows once per token.
      const [N, K] = ins[1].shape;
      const tokens = K > 0 ? numel(ins[0].shape) / K : 0;
      if (j === 0) return traffic(bytes, N);
      if (j === 1) return traffic(bytes * keptFraction(t), tokens);
      return traffic(bytes, tokens);
    }
    case 'nn.rms_norm': {
      // x: one pass for the mean square, one to scale; the weight once per row.
      const d = ins[1].shape[0];
      return j === 0 ? traffic(bytes, 2) : traffic(bytes, d > 0 ? numel(ins[0].shape) / d : 0);
    }
    case 'nn.embedding':
      // Only the looked-up rows of the table are read.
      return j === 0 ? traffic(numel(outs[0].shape) * dtypeBytes(t.dtype)) : traffic(bytes);
    case 'tensor.gather':
      return j === 0 ? traffic(numel(outs[0].shape) * dtypeBytes(t.dtype)) : traffic(bytes);
    case 'ssm.scan_step':
    case 'ssm.scan':
      // One work-item per channel: B and C (d_state values per token) are read by all e channels.
      return j === 4 || j === 5 ? traffic(bytes, ins[3].shape[0]) : traffic(bytes);
    default: {
      // Elementwise broadcast: a smaller operand is read once per output element it feeds.
      const out = outs[0];
      if (findOp(op)?.fusion === 'elementwise' && out && numel(t.shape) > 0) return traffic(bytes, numel(out.shape) / numel(t.shape));
      return traffic(bytes);
    }
  }
}

/** Cost of `tr` read in `kind` on `device`. */
export function readCost(tr: Traffic, device: DeviceDesc, kind: MemoryKind): number {
  return tr.first * device.read[kind] + tr.again * device.reread[kind];
}

/** One use inside a kernel: which body op reads the value, at which operand. */
export interface Use {
  readonly op: string;
  readonly operand: number;
}

export interface KernelRead {
  readonly traffic: Traffic;
  readonly uses: readonly Use[];
}

/** What a fused kernel does with each parameter and each weight its body names directly. */
export interface KernelReads {
  readonly params: readonly KernelRead[];
  /** Weights the body references directly (not through a parameter). */
  readonly weights: ReadonlyMap<string, KernelRead>;
}

interface Acc {
  traffic: Traffic;
  uses: Use[];
}

/**
 * The reads of a fused kernel's body (`weights`: the graph's weight types, which a body
 * names directly). Nested groups are followed through their parameters; a parameter
 * yielded as it is counts as read once (the kernel copies it to its result).
 */
export function kernelReads(body: Region, weights: ReadonlyMap<string, TensorType>): KernelReads {
  const params: Acc[] = body.inputs.map(() => ({ traffic: NO_TRAFFIC, uses: [] }));
  const direct = new Map<string, Acc>();
  // origin: a region-local name -> the kernel parameter index (number) or weight name it is.
  const walk = (region: Region, origin: ReadonlyMap<string, number | string>) => {
    const types = new Map<string, TensorType>(weights);
    for (const p of region.inputs) types.set(p.name, p.type);
    for (const n of region.nodes) for (const o of n.outputs) types.set(o.name, o.type);
    const source = (x: string) => origin.get(x) ?? (weights.has(x) ? x : undefined);
    for (const n of region.nodes) {
      if (n.body) {
        const inner = new Map<string, number | string>();
        n.body.inputs.forEach((p, i) => {
          const src = source(n.inputs[i]);
          if (src !== undefined) inner.set(p.name, src);
        });
        walk(n.body, inner);
        continue;
      }
      const ins = n.inputs.map((x) => types.get(x)!);
      const outs = n.outputs.map((o) => o.type);
      n.inputs.forEach((x, j) => {
        const src = source(x);
        if (src === undefined) return;
        const acc = typeof src === 'number' ? params[src] : getOrAdd(direct, src);
        acc.traffic = addTraffic(acc.traffic, operandTraffic(n.op, j, ins, outs));
        acc.uses.push({ op: n.op, operand: j });
      });
    }
    const paramNames = new Set(region.inputs.map((p) => p.name));
    for (const y of region.outputs) {
      const src = origin.get(y);
      if (typeof src === 'number' && paramNames.has(y)) params[src].traffic = addTraffic(params[src].traffic, traffic(valueBytes(types.get(y)!)));
    }
  };
  walk(body, new Map(body.inputs.map((p, i) => [p.name, i])));
  return { params, weights: direct };
}

function getOrAdd(m: Map<string, Acc>, k: string): Acc {
  let e = m.get(k);
  if (!e) m.set(k, (e = { traffic: NO_TRAFFIC, uses: [] }));
  return e;
}
