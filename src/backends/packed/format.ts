// Constants and layout arithmetic of the packed C_n^4 weights file (specs/packed-weights.md
// is normative; this file transcribes its numbers). Writer, reader, size model and
// backends all take sizes from here, so they cannot disagree about where a byte is.

/** Bytes 0..7 of every file. */
export const MAGIC = 'SSMCPACK';
export const VERSION = 1;
export const HEADER_SIZE = 64;
/** No flag bits are defined in version 1; a reader rejects any it does not know. */
export const KNOWN_FLAGS = 0;
/** Alignment of every tensor's data (a power of two, 16..4096; the writer's default). */
export const DEFAULT_ALIGNMENT = 64;
export const MIN_ALIGNMENT = 16;
export const MAX_ALIGNMENT = 4096;
/**
 * Every cn4 tile is padded to a multiple of this many bytes, so each tile's values start
 * 4-byte aligned (an f32 pointer in C must be).
 */
export const TILE_PAD = 4;
/**
 * Zero bytes the writer leaves after every tensor's data (before the next tensor and at
 * the end of the file), so a kernel may load a whole 16-byte vector at a tensor's last
 * group without reading past the file.
 */
export const GUARD = 16;
export const MAX_RANK = 8;
export const MAX_NAME_BYTES = 1024;

/** Header field offsets. */
export const H = {
  magic: 0,
  version: 8,
  flags: 12,
  tensorCount: 16,
  alignment: 20,
  fileSize: 24,
  tableOffset: 32,
  tableSize: 40,
  dataOffset: 48,
  checksum: 56,
  reserved: 60,
} as const;

export type PackedDType = 'f32' | 'f16' | 'i32';
export const DTYPE_CODES: readonly PackedDType[] = ['f32', 'f16', 'i32'];
export const valueBytes = (d: PackedDType): number => (d === 'f16' ? 2 : 4);

export type PackedLayout = 'dense' | 'cn4';
export const LAYOUT_CODES: readonly PackedLayout[] = ['dense', 'cn4'];

/**
 * Bits of metadata per full group of 4, by n: n = 1 stores the pruned position (2 bits),
 * n = 3 the kept position (2 bits), n = 2 a keep-mask (4 bits, two bits set; log2 C(4,2)
 * would be 2.6 bits, but nibbles keep the decoder a table lookup). n = 0 and n = 4
 * need none.
 */
export const CODE_BITS: readonly number[] = [0, 2, 4, 2, 0];

/** A run of consecutive rows sharing n, stored as tiles of `tileRows` interleaved rows. */
export interface Segment {
  readonly firstRow: number;
  readonly rows: number;
  /** Pruned per group of 4 (0 = dense rows, 4 = rows not stored). */
  readonly n: number;
  /** Byte offset from the start of the tensor's data. */
  readonly offset: number;
  /** Bytes of the segment (0 when n = 4). */
  readonly size: number;
}

export interface PackedTensorInfo {
  readonly name: string;
  readonly dtype: PackedDType;
  readonly layout: PackedLayout;
  readonly shape: readonly number[];
  /** Absolute byte offset of the tensor's data in the file (a multiple of the alignment). */
  readonly offset: number;
  readonly size: number;
  /** cn4 only: rows interleaved per tile. */
  readonly tileRows?: number;
  /** cn4 only: the row runs, in row order, covering every row once. */
  readonly segments?: readonly Segment[];
}

export const alignUp = (n: number, a: number): number => Math.ceil(n / a) * a;

/** Full groups of 4 and the dense tail of a row of K columns. */
export function rowGroups(cols: number): { groups: number; tail: number } {
  return { groups: Math.floor(cols / 4), tail: cols % 4 };
}

/** Bytes of one tile of `t` rows with n pruned per group: values, then codes, then padding. */
export function tileBytes(t: number, cols: number, n: number, vb: number): { values: number; codes: number; size: number } {
  if (n === 4) return { values: 0, codes: 0, size: 0 };
  const { groups, tail } = rowGroups(cols);
  const values = t * (groups * (4 - n) + tail) * vb;
  const codes = Math.ceil((t * groups * CODE_BITS[n]) / 8);
  return { values, codes, size: alignUp(values + codes, TILE_PAD) };
}

/** Bytes of a segment: full tiles of `tileRows`, then one tile of the remaining rows. */
export function segmentBytes(rows: number, cols: number, n: number, vb: number, tileRows: number): number {
  const full = Math.floor(rows / tileRows);
  const rest = rows % tileRows;
  return full * tileBytes(tileRows, cols, n, vb).size + (rest ? tileBytes(rest, cols, n, vb).size : 0);
}

/** Maximal runs of equal n, with their offsets and sizes, for a rows x cols tensor. */
export function planSegments(rowN: readonly number[], cols: number, vb: number, tileRows: number): Segment[] {
  const out: Segment[] = [];
  let offset = 0;
  for (let r = 0; r < rowN.length; ) {
    let end = r + 1;
    while (end < rowN.length && rowN[end] === rowN[r]) end++;
    const size = segmentBytes(end - r, cols, rowN[r], vb, tileRows);
    out.push({ firstRow: r, rows: end - r, n: rowN[r], offset, size });
    offset += size;
    r = end;
  }
  return out;
}

/** Bytes of a table entry (see the spec's section 3). */
export function entryBytes(nameBytes: number, rank: number, segments: number | undefined): number {
  return 2 + nameBytes + 4 + 4 * rank + 16 + (segments === undefined ? 0 : 8 + 16 * segments);
}
