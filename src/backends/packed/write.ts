// packWeights: every weight of a graph into one packed file (specs/packed-weights.md).
// Weights with a cn4 annotation are stored in the cn4 layout, read off the zeros in
// their data (a row whose pruned positions are not zero is an error naming the weight
// and the row); all others dense, row-major. Float weights are stored in their IR dtype
// (bf16, which the format lacks, widened exactly to f32) unless `dtype` asks for one
// dtype for all; i32 weights stay i32. Casting is the IR's business (the cast-weights
// pass), so the file holds exactly what the interpreter computes with.
import { SsmcError } from '../../errors.ts';
import type { Graph, Value } from '../../ir/graph.ts';
import { numel } from '../../ir/types.ts';
import type { WeightArray } from '../../ir/weights.ts';
import { decodeBf16Array, decodeF16Array, encodeF16Array } from '../../util/half.ts';
import { encodeTile } from './cn4-codec.ts';
import type { PackedDType, PackedTensorInfo, Segment } from './format.ts';
import {
  DEFAULT_ALIGNMENT, DTYPE_CODES, GUARD, H, HEADER_SIZE, LAYOUT_CODES, MAGIC, MAX_ALIGNMENT, MAX_NAME_BYTES, MIN_ALIGNMENT, VERSION,
  alignUp, entryBytes, planSegments, tileBytes, valueBytes,
} from './format.ts';
import { fileChecksum } from './checksum.ts';

export interface PackOptions {
  /** Storage of every float weight; default: each weight's IR dtype (bf16 as f32). */
  readonly dtype?: 'f32' | 'f16';
  /** Rows interleaved per cn4 tile (default 4; 1 = one row after another). */
  readonly tileRows?: number;
  /** Alignment of every tensor's data (default 64). */
  readonly alignment?: number;
}

export interface PackedFile {
  readonly bytes: Uint8Array;
  readonly table: readonly PackedTensorInfo[];
}

interface Planned {
  readonly info: PackedTensorInfo;
  readonly nameBytes: Uint8Array;
  readonly values: Float32Array | Int32Array;
  /** The IR's f16 bits, when the file stores the same f16 values (copied, not re-encoded). */
  readonly half?: Uint16Array;
}

export function packWeights(graph: Graph, opts: PackOptions = {}): PackedFile {
  const tileRows = opts.tileRows ?? 4;
  const alignment = opts.alignment ?? DEFAULT_ALIGNMENT;
  if (opts.dtype !== undefined && opts.dtype !== 'f32' && opts.dtype !== 'f16') throw new SsmcError('E_ARG', `packWeights: dtype must be f32 or f16, got ${String(opts.dtype)}`);
  if (!(Number.isSafeInteger(tileRows) && tileRows >= 1 && tileRows <= 0xffff)) throw new SsmcError('E_ARG', `packWeights: tileRows must be an integer in [1, 65535], got ${tileRows}`);
  if (!(Number.isSafeInteger(alignment) && alignment >= MIN_ALIGNMENT && alignment <= MAX_ALIGNMENT && (alignment & (alignment - 1)) === 0)) {
    throw new SsmcError('E_ARG', `packWeights: alignment must be a power of two in [${MIN_ALIGNMENT}, ${MAX_ALIGNMENT}], got ${alignment}`);
  }
  const utf8 = new TextEncoder();
  let tableSize = 0;
  const drafts = graph.weights.map((w) => {
    const nameBytes = utf8.encode(w.name);
    if (nameBytes.length === 0 || nameBytes.length > MAX_NAME_BYTES) throw new SsmcError('E_ARG', `packWeights: weight name @${w.name} must be 1..${MAX_NAME_BYTES} bytes of UTF-8`);
    const draft = planTensor(w, graph.weightData.get(w.name), opts.dtype, tileRows);
    tableSize += entryBytes(nameBytes.length, w.type.shape.length, draft.segments?.length);
    return { ...draft, nameBytes };
  });
  const dataOffset = alignUp(HEADER_SIZE + tableSize, alignment);
  let cursor = dataOffset;
  const planned: Planned[] = drafts.map((d, i) => {
    const offset = i === 0 ? dataOffset : alignUp(cursor + GUARD, alignment);
    cursor = offset + d.size;
    const info: PackedTensorInfo = { name: d.name, dtype: d.dtype, layout: d.segments ? 'cn4' : 'dense', shape: d.shape, offset, size: d.size, ...(d.segments ? { tileRows, segments: d.segments } : {}) };
    return { info, nameBytes: d.nameBytes, values: d.values, half: d.half };
  });
  const fileSize = planned.length === 0 ? dataOffset : cursor + GUARD;
  const bytes = new Uint8Array(fileSize);
  const view = new DataView(bytes.buffer);
  writeHeader(view, { tensorCount: planned.length, alignment, fileSize, tableSize, dataOffset });
  let at = HEADER_SIZE;
  for (const p of planned) at = writeEntry(view, bytes, at, p);
  for (const p of planned) writeData(view, p);
  view.setUint32(H.checksum, fileChecksum(bytes), true);
  return { bytes, table: planned.map((p) => p.info) };
}

/** Dtype, shape, segments and size of one weight, with its values decoded to f32 (or i32). */
function planTensor(w: Value, data: WeightArray, fileDtype: 'f32' | 'f16' | undefined, tileRows: number) {
  const values = data instanceof Int32Array ? data : w.type.dtype === 'f16' ? decodeF16Array(data as Uint16Array) : w.type.dtype === 'bf16' ? decodeBf16Array(data as Uint16Array) : (data as Float32Array);
  const dtype: PackedDType = values instanceof Int32Array ? 'i32' : (fileDtype ?? (w.type.dtype === 'f16' ? 'f16' : 'f32'));
  const half = dtype === 'f16' && w.type.dtype === 'f16' ? (data as Uint16Array) : undefined;
  const shape = [...w.type.shape];
  let segments: Segment[] | undefined;
  let size = numel(shape) * valueBytes(dtype);
  if (w.type.cn4 !== undefined) {
    if (dtype === 'i32' || shape.length !== 2) throw new SsmcError('E_ARG', `packWeights: @${w.name} has a cn4 annotation but is not a 2-D float weight`, { what: `@${w.name}` });
    segments = planSegments(w.type.cn4, shape[1], valueBytes(dtype), tileRows);
    size = segments.reduce((a, s) => a + s.size, 0);
  }
  return { name: w.name, dtype, shape, segments, size, values, half };
}

function writeHeader(view: DataView, h: { tensorCount: number; alignment: number; fileSize: number; tableSize: number; dataOffset: number }): void {
  for (let i = 0; i < 8; i++) view.setUint8(H.magic + i, MAGIC.charCodeAt(i));
  view.setUint32(H.version, VERSION, true);
  view.setUint32(H.flags, 0, true);
  view.setUint32(H.tensorCount, h.tensorCount, true);
  view.setUint32(H.alignment, h.alignment, true);
  view.setBigUint64(H.fileSize, BigInt(h.fileSize), true);
  view.setBigUint64(H.tableOffset, BigInt(HEADER_SIZE), true);
  view.setBigUint64(H.tableSize, BigInt(h.tableSize), true);
  view.setBigUint64(H.dataOffset, BigInt(h.dataOffset), true);
}

function writeEntry(view: DataView, bytes: Uint8Array, at: number, p: Planned): number {
  const { info } = p;
  view.setUint16(at, p.nameBytes.length, true);
  bytes.set(p.nameBytes, at + 2);
  at += 2 + p.nameBytes.length;
  view.setUint8(at, DTYPE_CODES.indexOf(info.dtype));
  view.setUint8(at + 1, LAYOUT_CODES.indexOf(info.layout));
  view.setUint8(at + 2, info.shape.length);
  at += 4;
  for (const d of info.shape) {
    view.setUint32(at, d, true);
    at += 4;
  }
  view.setBigUint64(at, BigInt(info.offset), true);
  view.setBigUint64(at + 8, BigInt(info.size), true);
  at += 16;
  if (info.segments) {
    view.setUint32(at, info.tileRows!, true);
    view.setUint32(at + 4, info.segments.length, true);
    at += 8;
    for (const s of info.segments) {
      view.setUint32(at, s.rows, true);
      view.setUint8(at + 4, s.n);
      view.setBigUint64(at + 8, BigInt(s.offset), true);
      at += 16;
    }
  }
  return at;
}

function writeData(view: DataView, p: Planned): void {
  const { info, values } = p;
  if (info.layout === 'dense') {
    // Little-endian element by element (a typed-array view would follow the host's order).
    if (info.dtype === 'f16') {
      const h = p.half ?? encodeF16Array(values);
      for (let i = 0; i < h.length; i++) view.setUint16(info.offset + 2 * i, h[i], true);
    } else if (info.dtype === 'i32') for (let i = 0; i < values.length; i++) view.setInt32(info.offset + 4 * i, values[i], true);
    else for (let i = 0; i < values.length; i++) view.setFloat32(info.offset + 4 * i, values[i], true);
    return;
  }
  const cols = info.shape[1];
  const src = values as Float32Array;
  const io = { dtype: info.dtype, view };
  const tileRows = info.tileRows!;
  for (const s of info.segments!) {
    if (s.n === 4) {
      checkZeroRows(src, s.firstRow, s.rows, cols, info.name);
      continue;
    }
    let at = info.offset + s.offset;
    for (let r = 0; r < s.rows; r += tileRows) {
      const t = Math.min(tileRows, s.rows - r);
      encodeTile(src, { cols, n: s.n, row: s.firstRow + r, rows: t }, io, at, info.name);
      at += tileBytes(t, cols, s.n, valueBytes(info.dtype)).size;
    }
  }
}

/** n = 4 rows are not stored at all, so every one of their weights must be zero. */
function checkZeroRows(src: Float32Array, first: number, rows: number, cols: number, name: string): void {
  for (let r = first; r < first + rows; r++) {
    for (let c = 0; c < cols; c++) {
      if (src[r * cols + c] !== 0) throw new SsmcError('E_VERIFY', `weight @${name} row ${r}: cn4 n=4 (row not stored), but column ${c} is ${src[r * cols + c]}`, { what: `@${name}` });
    }
  }
}
