// Constants and layout arithmetic of the packed C_n^4 weights file (specs/packed-weights.md
// is normative; this file transcribes its numbers). Writer, reader, size model and
// backends all take sizes from here, so they cannot disagree about where a byte is.

/** Bytes 0..7 of every file. */
export const MAGIC = 'SSMCPACK';
/**
 * Version 3 stores each tile as chunks (codes, then values), the n = 2 code as two
 * positions, and n = 1 values u-major in blocks of 4 groups (valueIndex). Version 1
 * (codes after all values, n = 2 keep-masks) and version 2 (n = 1 values group by
 * group) files are rejected.
 */
export const VERSION = 3;
export const HEADER_SIZE = 64;
/** No flag bits are defined in version 3; a reader rejects any it does not know. */
export const KNOWN_FLAGS = 0;
/** Alignment of every tensor's data (a power of two, 16..4096; the writer's default). */
export const DEFAULT_ALIGNMENT = 64;
export const MIN_ALIGNMENT = 16;
export const MAX_ALIGNMENT = 4096;
/**
 * Every cn4 tile, and the codes of every chunk, are padded to a multiple of this many
 * bytes, so every run of values starts 4-byte aligned (an f32 pointer in C must be).
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
 * n = 3 the kept position (2 bits), n = 2 the two kept positions (2 bits each, the lower
 * first; log2 C(4,2) would be 2.6 bits, but two plain positions let a kernel index x
 * directly). n = 0 and n = 4 need none.
 */
export const CODE_BITS: readonly number[] = [0, 2, 4, 2, 0];

/**
 * Groups per chunk, by n (0 where there are no chunks: n = 0 stores its groups without
 * codes, n = 4 nothing). Chosen so a full chunk's codes are 16 bytes per row of the tile
 * (64 bytes for tiles of 4: one cache line, and the values after it stay 64-byte aligned).
 */
export const CHUNK_GROUPS: readonly number[] = [0, 64, 32, 64, 0];

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

/** Groups per block of n = 1 values (stored u-major inside a block; see valueIndex). */
export const N1_BLOCK = 4;

/**
 * Index, among the values of a chunk of `gc` groups of a tile of `t` rows, of the u-th
 * kept value of row i in the chunk's group gl. n = 1: the chunk's groups form blocks of
 * N1_BLOCK (the last may hold fewer, b); a block stores every (group, row)'s first kept
 * value, then every second, then every third, each group-major and row-minor, so a
 * 16-lane vector of a 4-row tile holds one u of 4 groups (what the decode kernels want).
 * Other n: group-major, row-minor, the kept values of a (group, row) side by side.
 */
export function valueIndex(n: number, t: number, gc: number, gl: number, i: number, u: number): number {
  const kept = 4 - n;
  if (n !== 1) return (gl * t + i) * kept + u;
  const j = Math.floor(gl / N1_BLOCK);
  const b = Math.min(N1_BLOCK, gc - j * N1_BLOCK);
  return j * N1_BLOCK * t * kept + (u * b + (gl - j * N1_BLOCK)) * t + i;
}

/** Full groups of 4 and the dense tail of a row of K columns. */
export function rowGroups(cols: number): { groups: number; tail: number } {
  return { groups: Math.floor(cols / 4), tail: cols % 4 };
}

/** Bytes of one chunk of `gc` groups of a tile of `t` rows: codes (padded), then values. */
export function chunkBytes(t: number, gc: number, n: number, vb: number): { codes: number; values: number; size: number } {
  const codes = alignUp(Math.ceil((t * gc * CODE_BITS[n]) / 8), TILE_PAD);
  const values = t * gc * (4 - n) * vb;
  return { codes, values, size: codes + values };
}

/** One chunk of a tile; offsets are from the start of the tile. */
export interface TileChunk {
  /** First group (of the row) in the chunk, and how many groups it holds. */
  readonly firstGroup: number;
  readonly groups: number;
  /** Where its codes start (the chunk's start) and their bytes, padding included. */
  readonly codesOffset: number;
  readonly codesBytes: number;
  /** Where its values start (right after the codes) and their bytes. */
  readonly valuesOffset: number;
  readonly valuesBytes: number;
}

/**
 * The chunks of a tile of `t` rows, in storage order: full chunks of CHUNK_GROUPS[n]
 * groups, the last one possibly shorter. Empty for n = 0 (no chunks: the values of all
 * groups start the tile) and n = 4 (nothing stored), and when the row has no full group.
 */
export function tileChunks(t: number, cols: number, n: number, vb: number): TileChunk[] {
  const cg = CHUNK_GROUPS[n] ?? 0;
  const { groups } = rowGroups(cols);
  const out: TileChunk[] = [];
  if (cg === 0) return out;
  let at = 0;
  for (let g = 0; g < groups; g += cg) {
    const gc = Math.min(cg, groups - g);
    const c = chunkBytes(t, gc, n, vb);
    out.push({ firstGroup: g, groups: gc, codesOffset: at, codesBytes: c.codes, valuesOffset: at + c.codes, valuesBytes: c.values });
    at += c.size;
  }
  return out;
}

/**
 * Bytes of one tile of `t` rows with n pruned per group: `values` (kept and tail values)
 * and `codes` (with each chunk's padding) are totals over the tile, `tailAt` is where
 * the tail values start (after the last chunk), `size` includes the tile's final padding.
 * Closed form of summing tileChunks: all chunks but the last are full.
 */
export function tileBytes(t: number, cols: number, n: number, vb: number): { values: number; codes: number; tailAt: number; size: number } {
  if (n === 4) return { values: 0, codes: 0, tailAt: 0, size: 0 };
  const { groups, tail } = rowGroups(cols);
  let codes = 0;
  const cg = CHUNK_GROUPS[n];
  if (cg > 0 && groups > 0) {
    const full = Math.floor(groups / cg);
    const rest = groups % cg;
    codes = full * chunkBytes(t, cg, n, vb).codes + (rest ? chunkBytes(t, rest, n, vb).codes : 0);
  }
  const kept = t * groups * (4 - n) * vb;
  const tailAt = codes + kept;
  return { values: kept + t * tail * vb, codes, tailAt, size: alignUp(tailAt + t * tail * vb, TILE_PAD) };
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
