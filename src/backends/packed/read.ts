// readPackedWeights: parses and fully validates a packed weights file. Every problem is
// an SsmcError with the file name and the byte offset of the offending field; nothing
// is allocated in proportion to a count the file's size cannot justify, so a corrupt or
// hostile file fails fast. Data is not copied: tensors are views into `bytes`.
import type { ErrorCode } from '../../errors.ts';
import { SsmcError } from '../../errors.ts';
import { fileChecksum } from './checksum.ts';
import type { PackedTensorInfo, Segment } from './format.ts';
import {
  DTYPE_CODES, GUARD, H, HEADER_SIZE, KNOWN_FLAGS, LAYOUT_CODES, MAGIC, MAX_ALIGNMENT, MAX_NAME_BYTES, MAX_RANK, MIN_ALIGNMENT,
  VERSION, rowGroups, segmentBytes, tileBytes, tileChunks, valueBytes,
} from './format.ts';

export interface PackedWeights {
  /** Name used in error messages. */
  readonly file: string;
  readonly bytes: Uint8Array;
  readonly version: number;
  readonly flags: number;
  readonly alignment: number;
  readonly checksum: number;
  readonly tensors: readonly PackedTensorInfo[];
}

export interface ReadOptions {
  /** Check the CRC-32 (default true). */
  readonly checksum?: boolean;
}

/** Smallest possible table entry: 1-byte name, rank 0, dense. */
const MIN_ENTRY = 2 + 1 + 4 + 16;

export function readPackedWeights(bytes: Uint8Array, file = '<packed>', opts: ReadOptions = {}): PackedWeights {
  const fail = (code: ErrorCode, offset: number, message: string, what?: string): never => {
    throw new SsmcError(code, message, { file, offset, ...(what !== undefined ? { what } : {}) });
  };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < MAGIC.length) fail('E_TRUNCATED', bytes.length, `file has ${bytes.length} bytes, too short for the magic`);
  for (let i = 0; i < MAGIC.length; i++) {
    if (bytes[i] !== MAGIC.charCodeAt(i)) fail('E_MAGIC', i, `not a packed weights file (magic must be "${MAGIC}")`);
  }
  if (bytes.length < HEADER_SIZE) fail('E_TRUNCATED', bytes.length, `file has ${bytes.length} bytes, the header needs ${HEADER_SIZE}`);
  const u64 = (at: number): number => {
    const v = view.getBigUint64(at, true);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) fail('E_TOO_LARGE', at, `64-bit field ${v} is too large`);
    return Number(v);
  };

  const version = view.getUint32(H.version, true);
  if (version !== VERSION) {
    // Version 1 is the likeliest stale file: say why it cannot be read, not just that.
    const why = version === 1 ? ' (version 1 stored codes after the values and n=2 codes as keep-masks; repack the weights)' : version === 2 ? ' (version 2 stored n=1 values group by group; repack the weights)' : '';
    fail('E_VERSION', H.version, `version ${version} is not supported (this reader knows ${VERSION})${why}`);
  }
  const flags = view.getUint32(H.flags, true);
  if ((flags & ~KNOWN_FLAGS) !== 0) fail('E_HEADER', H.flags, `unknown flag bits 0x${(flags >>> 0).toString(16)}`);
  const count = view.getUint32(H.tensorCount, true);
  const alignment = view.getUint32(H.alignment, true);
  if (alignment < MIN_ALIGNMENT || alignment > MAX_ALIGNMENT || (alignment & (alignment - 1)) !== 0) {
    fail('E_HEADER', H.alignment, `alignment ${alignment} is not a power of two in [${MIN_ALIGNMENT}, ${MAX_ALIGNMENT}]`);
  }
  const fileSize = u64(H.fileSize);
  if (bytes.length < fileSize) fail('E_TRUNCATED', bytes.length, `file is truncated: ${bytes.length} of ${fileSize} bytes`);
  if (bytes.length > fileSize) fail('E_HEADER', fileSize, `${bytes.length - fileSize} bytes after the end the header gives (${fileSize})`);
  const tableOffset = u64(H.tableOffset);
  if (tableOffset !== HEADER_SIZE) fail('E_OFFSETS', H.tableOffset, `table offset must be ${HEADER_SIZE}, got ${tableOffset}`);
  const tableSize = u64(H.tableSize);
  const dataOffset = u64(H.dataOffset);
  const tableEnd = tableOffset + tableSize;
  if (tableEnd > dataOffset) fail('E_OFFSETS', H.tableSize, `table [${tableOffset}, ${tableEnd}) runs into the data at ${dataOffset}`);
  if (dataOffset > fileSize || dataOffset % alignment !== 0) fail('E_OFFSETS', H.dataOffset, `data offset ${dataOffset} is not an aligned offset inside the file`);
  if (view.getUint32(H.reserved, true) !== 0) fail('E_HEADER', H.reserved, 'reserved header bytes must be zero');
  if (count * MIN_ENTRY > tableSize) fail('E_HEADER', H.tensorCount, `${count} tensors cannot fit a ${tableSize}-byte table`);
  const checksum = view.getUint32(H.checksum, true);
  if (opts.checksum !== false) {
    const actual = fileChecksum(bytes.subarray(0, fileSize));
    if (actual !== checksum) fail('E_CHECKSUM', H.checksum, `checksum mismatch: header says 0x${hex(checksum)}, contents give 0x${hex(actual)}`);
  }

  const tensors: PackedTensorInfo[] = [];
  const names = new Set<string>();
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  let at = tableOffset;
  // Where the next tensor may start: the data offset, then GUARD bytes past each tensor.
  let dataEnd = dataOffset;
  const need = (n: number, what: string) => {
    if (at + n > tableEnd) fail('E_OFFSETS', at, `${what} runs past the end of the table (${tableEnd})`);
  };
  for (let i = 0; i < count; i++) {
    const entryAt = at;
    need(2, `entry ${i}`);
    const nameLen = view.getUint16(at, true);
    if (nameLen === 0 || nameLen > MAX_NAME_BYTES) fail('E_HEADER', at, `tensor ${i}: name length ${nameLen} is not in [1, ${MAX_NAME_BYTES}]`);
    at += 2;
    need(nameLen + 4, `tensor ${i}`);
    let name = '';
    try {
      name = utf8.decode(bytes.subarray(at, at + nameLen));
    } catch {
      fail('E_HEADER', at, `tensor ${i}: name is not valid UTF-8`);
    }
    if (names.has(name)) fail('E_HEADER', at, `tensor name '${name}' appears twice`, name);
    names.add(name);
    at += nameLen;
    const dtype = DTYPE_CODES[view.getUint8(at)] ?? fail('E_DTYPE', at, `unknown dtype code ${view.getUint8(at)}`, name);
    const layout = LAYOUT_CODES[view.getUint8(at + 1)] ?? fail('E_HEADER', at + 1, `unknown layout code ${view.getUint8(at + 1)}`, name);
    const rank = view.getUint8(at + 2);
    if (rank > MAX_RANK) fail('E_SHAPE', at + 2, `rank ${rank} exceeds ${MAX_RANK}`, name);
    if (view.getUint8(at + 3) !== 0) fail('E_HEADER', at + 3, 'reserved byte must be zero', name);
    at += 4;
    need(4 * rank + 16, `tensor '${name}'`);
    const shape: number[] = [];
    let numel = 1;
    for (let d = 0; d < rank; d++) {
      shape.push(view.getUint32(at, true));
      numel *= shape[d];
      at += 4;
    }
    if (!Number.isSafeInteger(numel)) fail('E_TOO_LARGE', at - 4 * rank, `shape [${shape}] is too large`, name);
    const offset = u64(at);
    const size = u64(at + 8);
    if (offset % alignment !== 0) fail('E_OFFSETS', at, `data offset ${offset} is not a multiple of ${alignment}`, name);
    if (offset < dataEnd) fail('E_OFFSETS', at, `data offset ${offset} overlaps the table or the previous tensor and its guard bytes (which end at ${dataEnd})`, name);
    if (offset + size + GUARD > fileSize) fail('E_OFFSETS', offset + GUARD > fileSize ? at : at + 8, `data [${offset}, ${offset + size}) and its ${GUARD} guard bytes run past the end of the file (${fileSize})`, name);
    dataEnd = offset + size + GUARD;
    at += 16;
    const vb = valueBytes(dtype);
    if (layout === 'dense') {
      if (size !== numel * vb) fail('E_SHAPE', entryAt, `dense ${dtype}[${shape}] needs ${numel * vb} bytes, the table gives ${size}`, name);
      tensors.push({ name, dtype, layout, shape, offset, size });
      continue;
    }
    if (rank !== 2) fail('E_SHAPE', entryAt, `a cn4 tensor must be 2-D, got [${shape}]`, name);
    if (dtype === 'i32') fail('E_DTYPE', entryAt, 'a cn4 tensor must hold f32 or f16 values', name);
    const [rows, cols] = shape;
    need(8, `tensor '${name}'`);
    const tileRows = view.getUint32(at, true);
    if (tileRows < 1) fail('E_HEADER', at, 'tile rows must be at least 1', name);
    const segCount = view.getUint32(at + 4, true);
    if (segCount > rows) fail('E_HEADER', at + 4, `${segCount} segments for ${rows} rows`, name);
    at += 8;
    need(16 * segCount, `tensor '${name}' segments`);
    const segments: Segment[] = [];
    let row = 0;
    let segOffset = 0;
    for (let s = 0; s < segCount; s++) {
      const n = view.getUint8(at + 4);
      const segRows = view.getUint32(at, true);
      if (segRows < 1 || row + segRows > rows) fail('E_SHAPE', at, `segment ${s} has ${segRows} rows; rows ${row}.. of ${rows} remain`, name);
      if (n > 4) fail('E_HEADER', at + 4, `segment ${s}: n = ${n} is not in 0..4`, name);
      if (view.getUint8(at + 5) !== 0 || view.getUint16(at + 6, true) !== 0) fail('E_HEADER', at + 5, 'reserved segment bytes must be zero', name);
      const off = u64(at + 8);
      if (off !== segOffset) fail('E_OFFSETS', at + 8, `segment ${s} must start at byte ${segOffset} of the tensor, the table says ${off}`, name);
      const segSize = segmentBytes(segRows, cols, n, vb, tileRows);
      segments.push({ firstRow: row, rows: segRows, n, offset: off, size: segSize });
      row += segRows;
      segOffset += segSize;
      at += 16;
    }
    if (row !== rows) fail('E_SHAPE', entryAt, `segments cover ${row} of ${rows} rows`, name);
    if (segOffset !== size) fail('E_SHAPE', entryAt, `segments need ${segOffset} bytes, the table gives ${size}`, name);
    const info: PackedTensorInfo = { name, dtype, layout, shape, offset, size, tileRows, segments };
    checkCodes(view, info, fail);
    tensors.push(info);
  }
  if (at !== tableEnd) fail('E_HEADER', at, `${tableEnd - at} bytes left over at the end of the table`);
  return { file, bytes: bytes.subarray(0, fileSize), version, flags, alignment, checksum, tensors };
}

/**
 * Every n = 2 code names two positions, the first lower (2-bit codes are all valid).
 * Walks each tile's chunks, since codes sit at the head of every chunk.
 */
function checkCodes(view: DataView, t: PackedTensorInfo, fail: (code: ErrorCode, offset: number, message: string, what?: string) => never): void {
  const cols = t.shape[1];
  const vb = valueBytes(t.dtype);
  const tileRows = t.tileRows!;
  for (const s of t.segments!) {
    // No groups (fewer than 4 columns) means no chunks, however many rows are claimed.
    if (s.n !== 2 || rowGroups(cols).groups === 0) continue;
    // Two tile sizes at most (full and last), so the chunk layout is computed once each.
    const full = tileChunks(tileRows, cols, s.n, vb);
    let at = t.offset + s.offset;
    for (let r = 0; r < s.rows; r += tileRows) {
      const rows = Math.min(tileRows, s.rows - r);
      for (const c of rows === tileRows ? full : tileChunks(rows, cols, s.n, vb)) {
        for (let k = 0; k < rows * c.groups; k++) {
          const byte = at + c.codesOffset + (k >> 1);
          const code = (view.getUint8(byte) >> (4 * (k & 1))) & 15;
          if ((code & 3) >= code >> 2) {
            const group = c.firstGroup + Math.floor(k / rows);
            fail('E_HEADER', byte, `row ${s.firstRow + r + (k % rows)} group ${group}: n=2 code 0x${code.toString(16)} names positions ${code & 3} and ${code >> 2}; the first must be lower`, t.name);
          }
        }
      }
      at += tileBytes(rows, cols, s.n, vb).size;
    }
  }
}

function hex(v: number): string {
  return (v >>> 0).toString(16).padStart(8, '0');
}

/** The tensor called `name`; E_MISSING_TENSOR listing a few others otherwise. */
export function findPackedTensor(file: PackedWeights, name: string): PackedTensorInfo {
  const t = file.tensors.find((x) => x.name === name);
  if (!t) throw new SsmcError('E_MISSING_TENSOR', `no tensor '${name}' in the packed file`, { file: file.file, what: name });
  return t;
}
