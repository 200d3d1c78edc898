// The weights of a C model: which stored forms the kernels need (dense f32/f16, or
// C_n^4 packed segments), their byte layout in weights.bin, and the file itself.
//
// weights.bin (version 1, little-endian):
//   0  char[8] "SSMCWGT1"      24 u64 layout hash (model.c holds the same value)
//   8  u32 version = 1         32 u64 checksum: Fletcher over the payload's u32 words
//   12 u32 tensor count            (a += w; b += a; mod 2^32; value b << 32 | a, a0 = 1)
//   16 u64 payload bytes       40..63 zero
//   64 payload: every tensor at a 64-byte aligned offset (baked into model.c).
// A C_n^4 tensor is a list of segments (rows sharing n); per segment with n in 1..3:
// per row the kept values of each full group of 4 (4-n of them, in position order),
// then the K % 4 tail weights dense; after all rows, per row ceil(G/2) bytes of 4-bit
// keep-masks (bit l = position l kept; group g in the low nibble when g is even).
// n = 0 rows are stored dense, n = 4 rows not at all. Every block is followed by 16
// bytes of padding so a kernel may load a full vector at its last group.
import { closeSync, openSync, writeSync } from 'node:fs';
import { SsmcError } from '../../errors.ts';
import type { Graph, Node, Value } from '../../ir/graph.ts';
import type { DType } from '../../ir/types.ts';
import { numel } from '../../ir/types.ts';
import type { WeightArray } from '../../ir/weights.ts';
import { decodeBf16Array, decodeF16Array } from '../../util/half.ts';

export type StoredForm = 'f32' | 'f16' | 'i32' | 'cn4-f32' | 'cn4-f16';

export interface Segment {
  readonly row: number;
  readonly rows: number;
  readonly n: number;
  /** Byte offsets inside the tensor's block. */
  readonly vals: number;
  readonly masks: number;
}

export interface PackedTensor {
  readonly index: number;
  readonly name: string;
  readonly form: StoredForm;
  readonly shape: readonly number[];
  /** Byte offset in the payload (64-aligned). */
  readonly offset: number;
  readonly bytes: number;
  readonly segments?: readonly Segment[];
  /** Writes the tensor's bytes (exactly `bytes` of them). */
  readonly data: () => Uint8Array;
}

export interface PackedWeights {
  readonly tensors: readonly PackedTensor[];
  readonly payloadBytes: number;
  /** 16 hex digits. */
  readonly layoutHash: string;
}

const ALIGN = 64;
const PAD = 16;
export const WEIGHTS_MAGIC = 'SSMCWGT1';
export const HEADER_BYTES = 64;

const alignUp = (n: number, a: number) => Math.ceil(n / a) * a;

/** The stored form a use of weight `w` needs: linear weights keep f16 and C_n^4; the rest is f32. */
export function formFor(node: Node, inputIndex: number, w: Value): StoredForm {
  if (w.type.dtype === 'i32') return 'i32';
  const half = w.type.dtype === 'f16';
  if (node.op === 'nn.linear' && inputIndex === 1) return w.type.cn4 ? (half ? 'cn4-f16' : 'cn4-f32') : half ? 'f16' : 'f32';
  if (node.op === 'nn.embedding' && inputIndex === 0) return half ? 'f16' : 'f32';
  return 'f32';
}

export function weightF32(data: WeightArray, dtype: DType): Float32Array {
  if (dtype === 'f16') return decodeF16Array(data as Uint16Array);
  if (dtype === 'bf16') return decodeBf16Array(data as Uint16Array);
  if (dtype === 'f32') return data as Float32Array;
  throw new SsmcError('E_UNSUPPORTED', `C backend: ${dtype} weights are not supported`);
}

interface Plan {
  readonly segments?: Segment[];
  readonly bytes: number;
}

function runs(cn4: readonly number[]): Array<{ row: number; rows: number; n: number }> {
  const out: Array<{ row: number; rows: number; n: number }> = [];
  cn4.forEach((n, r) => {
    const last = out[out.length - 1];
    if (last && last.n === n) last.rows++;
    else out.push({ row: r, rows: 1, n });
  });
  return out;
}

function planCn4(shape: readonly number[], cn4: readonly number[], eb: number): Plan {
  const [, K] = shape;
  const G = Math.floor(K / 4);
  const segs: Segment[] = [];
  let off = 0;
  for (const run of runs(cn4)) {
    if (run.n === 4) {
      segs.push({ ...run, vals: 0, masks: 0 });
      continue;
    }
    const rowVals = run.n === 0 ? K : (4 - run.n) * G + (K % 4);
    const vals = off;
    off = alignUp(off + run.rows * rowVals * eb + PAD, PAD);
    let masks = 0;
    if (run.n !== 0) {
      masks = off;
      off = alignUp(off + run.rows * Math.ceil(G / 2) + PAD, PAD);
    }
    segs.push({ ...run, vals, masks });
  }
  return { segments: segs, bytes: off };
}

/** Row-major f32 of any weight (C_n^4 data is masked dense: pruned positions are zero). */
function packCn4(name: string, shape: readonly number[], cn4: readonly number[], w: Float32Array, plan: Plan, half: boolean, halfBits?: Uint16Array): Uint8Array {
  const [N, K] = shape;
  if (cn4.length !== N) throw new SsmcError('E_UNSUPPORTED', `@${name}: cn4 annotation has ${cn4.length} entries for ${N} rows`);
  const G = Math.floor(K / 4);
  const out = new Uint8Array(plan.bytes);
  const dv = new DataView(out.buffer);
  const put = (byteOff: number, i: number) => {
    if (half) dv.setUint16(byteOff, halfBits![i], true);
    else dv.setFloat32(byteOff, w[i], true);
  };
  const eb = half ? 2 : 4;
  for (const seg of plan.segments!) {
    if (seg.n === 4) continue;
    const rowVals = seg.n === 0 ? K : (4 - seg.n) * G + (K % 4);
    for (let i = 0; i < seg.rows; i++) {
      const r = seg.row + i;
      let p = seg.vals + i * rowVals * eb;
      if (seg.n === 0) {
        for (let k = 0; k < K; k++, p += eb) put(p, r * K + k);
        continue;
      }
      const keep = 4 - seg.n;
      for (let g = 0; g < G; g++) {
        const base = r * K + 4 * g;
        const nz = [0, 1, 2, 3].filter((l) => w[base + l] !== 0);
        if (nz.length > keep) {
          throw new SsmcError('E_UNSUPPORTED', `@${name} row ${r} group ${g}: ${nz.length} non-zero weights, but cn4 n=${seg.n} keeps ${keep}`);
        }
        const kept = [...nz];
        for (let l = 0; kept.length < keep; l++) if (!kept.includes(l)) kept.push(l);
        kept.sort((a, b) => a - b);
        let mask = 0;
        for (const l of kept) {
          put(p, base + l);
          p += eb;
          mask |= 1 << l;
        }
        out[seg.masks + i * Math.ceil(G / 2) + (g >> 1)] |= mask << ((g & 1) * 4);
      }
      for (let k = 4 * G; k < K; k++, p += eb) put(p, r * K + k);
    }
  }
  return out;
}

/**
 * Lays out every (weight, stored form) pair the graphs use, in first-use order.
 * `uses` maps a weight name to the forms its uses need.
 */
export function packWeights(graph: Graph, uses: ReadonlyMap<string, ReadonlySet<StoredForm>>): PackedWeights {
  const decls = new Map(graph.weights.map((w) => [w.name, w]));
  const tensors: PackedTensor[] = [];
  let offset = 0;
  for (const [name, forms] of uses) {
    const decl = decls.get(name);
    if (!decl) throw new SsmcError('E_INTERNAL', `no weight @${name}`);
    const data = graph.weightData.get(name);
    for (const form of forms) {
      const shape = decl.type.shape;
      let bytes: number;
      let produce: () => Uint8Array;
      let segments: Segment[] | undefined;
      if (form === 'f32') {
        bytes = numel(shape) * 4;
        produce = () => {
          const f = weightF32(data, decl.type.dtype);
          return new Uint8Array(f.buffer, f.byteOffset, f.byteLength);
        };
      } else if (form === 'f16' || form === 'i32') {
        bytes = numel(shape) * (form === 'i32' ? 4 : 2);
        produce = () => new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
      } else {
        const half = form === 'cn4-f16';
        const plan = planCn4(shape, decl.type.cn4!, half ? 2 : 4);
        segments = plan.segments;
        bytes = plan.bytes;
        produce = () => packCn4(name, shape, decl.type.cn4!, weightF32(data, decl.type.dtype), plan, half, half ? (data as Uint16Array) : undefined);
      }
      tensors.push({ index: tensors.length, name, form, shape, offset, bytes, segments, data: produce });
      offset = alignUp(offset + bytes, ALIGN);
    }
  }
  const desc = tensors.map((t) => `${t.name}|${t.form}|${t.shape.join('x')}|${t.offset}|${t.bytes}|${JSON.stringify(t.segments ?? [])}`).join('\n');
  return { tensors, payloadBytes: Math.max(offset, ALIGN), layoutHash: fnv1a64(desc) };
}

export function fnv1a64(s: string): string {
  let h = 0xcbf29ce484222325n;
  const bytes = new TextEncoder().encode(s);
  for (const b of bytes) h = BigInt.asUintN(64, (h ^ BigInt(b)) * 0x100000001b3n);
  return h.toString(16).padStart(16, '0');
}

/** Streams weights.bin to `path` (the caller makes the folder atomic). */
export function writeWeightsFile(path: string, pw: PackedWeights): void {
  const fd = openSync(path, 'w');
  try {
    writeSync(fd, new Uint8Array(HEADER_BYTES), 0, HEADER_BYTES, 0);
    let a = 1;
    let b = 0;
    let pos = 0;
    const emit = (bytes: Uint8Array) => {
      // Checksum over u32 words; every chunk starts and ends 4-aligned in the payload.
      const words = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      for (let i = 0; i + 4 <= bytes.length; i += 4) {
        a = (a + words.getUint32(i, true)) >>> 0;
        b = (b + a) >>> 0;
      }
      for (let done = 0; done < bytes.length; ) done += writeSync(fd, bytes, done, Math.min(bytes.length - done, 1 << 30), HEADER_BYTES + pos + done);
      pos += bytes.length;
    };
    for (const t of pw.tensors) {
      if (t.offset > pos) emit(new Uint8Array(t.offset - pos));
      const d = t.data();
      if (d.length !== t.bytes) throw new SsmcError('E_INTERNAL', `@${t.name}: packed ${d.length} bytes, planned ${t.bytes}`);
      if (d.length % 4 === 0) emit(d);
      else emit(padTo4(d));
    }
    if (pw.payloadBytes > pos) emit(new Uint8Array(pw.payloadBytes - pos));
    const h = new Uint8Array(HEADER_BYTES);
    const dv = new DataView(h.buffer);
    h.set(new TextEncoder().encode(WEIGHTS_MAGIC), 0);
    dv.setUint32(8, 1, true);
    dv.setUint32(12, pw.tensors.length, true);
    dv.setBigUint64(16, BigInt(pw.payloadBytes), true);
    dv.setBigUint64(24, BigInt(`0x${pw.layoutHash}`), true);
    dv.setBigUint64(32, (BigInt(b) << 32n) | BigInt(a), true);
    writeSync(fd, h, 0, HEADER_BYTES, 0);
  } finally {
    closeSync(fd);
  }
}

function padTo4(d: Uint8Array): Uint8Array {
  const o = new Uint8Array(alignUp(d.length, 4));
  o.set(d);
  return o;
}
