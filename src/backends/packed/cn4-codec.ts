// Encoding and decoding of one cn4 tile (t rows of one segment, interleaved). The full
// groups are split into chunks (format.ts: tileChunks); each chunk holds one code per
// (group, row), group-major, packed LSB-first and padded to 4 bytes, then the kept
// values of every (group, row), in ascending position, placed by format.ts's valueIndex
// (side by side, or for n = 1 u-major in blocks of 4 groups). After the chunks come
// each row's K % 4 tail values (dense). n = 0 has no chunks: the values of all groups,
// then the tail. See specs/packed-weights.md, section 5.
import { SsmcError } from '../../errors.ts';
import { f16BitsToF32, f32ToF16Bits } from '../../util/half.ts';
import type { PackedDType, TileChunk } from './format.ts';
import { CODE_BITS, rowGroups, tileBytes, tileChunks, valueBytes, valueIndex } from './format.ts';

/** Little-endian value access at byte offsets, in the file's value dtype. */
export interface ValueIO {
  readonly dtype: PackedDType;
  readonly view: DataView;
}

function put(io: ValueIO, at: number, v: number): void {
  if (io.dtype === 'f16') io.view.setUint16(at, f32ToF16Bits(v), true);
  else io.view.setFloat32(at, v, true);
}

function get(io: ValueIO, at: number): number {
  return io.dtype === 'f16' ? f16BitsToF32(io.view.getUint16(at, true)) : io.view.getFloat32(at, true);
}

/**
 * The code of a group: the pruned positions are the n zero positions of highest index
 * (a canonical choice when a group holds more zeros than n). n = 1: the pruned position;
 * n = 2: first kept position | second << 2; n = 3: the kept position; n = 0: 0. Returns -1
 * when the group holds fewer than n zeros.
 */
export function groupCode(n: number, w0: number, w1: number, w2: number, w3: number): number {
  // Unrolled (no array per group): this runs once per 4 weights of the model.
  let keep = 0b1111;
  let pruned = 0;
  if (pruned < n && w3 === 0) {
    keep &= ~8;
    pruned++;
  }
  if (pruned < n && w2 === 0) {
    keep &= ~4;
    pruned++;
  }
  if (pruned < n && w1 === 0) {
    keep &= ~2;
    pruned++;
  }
  if (pruned < n && w0 === 0) {
    keep &= ~1;
    pruned++;
  }
  if (pruned < n) return -1;
  if (n === 1) return 31 - Math.clz32(~keep & 0xf); // the one pruned position
  if (n === 3) return 31 - Math.clz32(keep); // the one kept position
  if (n === 2) {
    const lo = 31 - Math.clz32(keep & -keep); // lowest kept position
    return lo | ((31 - Math.clz32(keep)) << 2);
  }
  return 0;
}

/** Keep-mask (bit i = position i kept) from a code; -1 for a code that is not valid for n. */
export function keepMask(n: number, code: number): number {
  if (n === 0) return 0b1111;
  if (n === 1) return 0b1111 & ~(1 << code);
  if (n === 3) return 1 << code;
  const first = code & 3;
  const second = (code >> 2) & 3;
  // Two positions, strictly ascending: one code per pair, and values in column order.
  return first < second ? (1 << first) | (1 << second) : -1;
}

export interface TileRef {
  /** The tensor's rows x cols values (f32; the source of truth for zeros). */
  readonly cols: number;
  readonly n: number;
  /** First row of the tile and its row count. */
  readonly row: number;
  readonly rows: number;
}

/**
 * The stretches of groups a tile stores, in order: its chunks, or for n = 0 one stretch
 * of all groups without codes (same value order, so one loop serves both).
 */
function stretches(t: number, cols: number, n: number, vb: number): readonly TileChunk[] {
  if (n !== 0) return tileChunks(t, cols, n, vb);
  const { groups } = rowGroups(cols);
  return groups === 0 ? [] : [{ firstGroup: 0, groups, codesOffset: 0, codesBytes: 0, valuesOffset: 0, valuesBytes: t * groups * 4 * vb }];
}

/** Writes one tile at byte offset `at` (zeroed bytes); throws naming `weight` and the row if a group is not C_n^4. */
export function encodeTile(src: Float32Array, tile: TileRef, io: ValueIO, at: number, weight: string): void {
  const { cols, n, row, rows: t } = tile;
  const { tail } = rowGroups(cols);
  const vb = valueBytes(io.dtype);
  const bits = CODE_BITS[n];
  for (const c of stretches(t, cols, n, vb)) {
    const v0 = at + c.valuesOffset;
    let bit = 0;
    for (let g = c.firstGroup; g < c.firstGroup + c.groups; g++) {
      for (let r = 0; r < t; r++) {
        const o = (row + r) * cols + 4 * g;
        const code = n === 0 ? 0 : groupCode(n, src[o], src[o + 1], src[o + 2], src[o + 3]);
        if (code < 0) {
          const zeros = [0, 1, 2, 3].filter((i) => src[o + i] === 0).length;
          throw new SsmcError('E_VERIFY', `weight @${weight} row ${row + r}: cn4 n=${n}, but columns ${4 * g}..${4 * g + 3} hold ${zeros} zero${zeros === 1 ? '' : 's'}`, {
            what: `@${weight}`,
          });
        }
        const mask = keepMask(n, code);
        for (let i = 0, u = 0; i < 4; i++) {
          if (mask & (1 << i)) put(io, v0 + valueIndex(n, t, c.groups, g - c.firstGroup, r, u++) * vb, src[o + i]);
        }
        if (bits > 0) {
          const byte = at + c.codesOffset + (bit >> 3);
          io.view.setUint8(byte, io.view.getUint8(byte) | (code << (bit & 7)));
          bit += bits;
        }
      }
    }
  }
  let v = at + tileBytes(t, cols, n, vb).tailAt;
  for (let r = 0; r < t; r++) {
    for (let c = cols - tail; c < cols; c++) {
      put(io, v, src[(row + r) * cols + c]);
      v += vb;
    }
  }
}

/**
 * Decodes one tile into `dst` (rows x cols, zero where pruned). Returns the byte offset
 * of the first code that is not valid for n (a corrupt file), or -1 when all are valid.
 */
export function decodeTile(dst: Float32Array, tile: TileRef, io: ValueIO, at: number): number {
  const { cols, n, row, rows: t } = tile;
  const { tail } = rowGroups(cols);
  const vb = valueBytes(io.dtype);
  const bits = CODE_BITS[n];
  for (const c of stretches(t, cols, n, vb)) {
    const v0 = at + c.valuesOffset;
    let bit = 0;
    for (let g = c.firstGroup; g < c.firstGroup + c.groups; g++) {
      for (let r = 0; r < t; r++) {
        let code = 0;
        const byte = at + c.codesOffset + (bit >> 3);
        if (bits > 0) {
          code = (io.view.getUint8(byte) >> (bit & 7)) & ((1 << bits) - 1);
          bit += bits;
        }
        const mask = keepMask(n, code);
        if (mask < 0) return byte;
        const o = (row + r) * cols + 4 * g;
        for (let i = 0, u = 0; i < 4; i++) {
          if (mask & (1 << i)) dst[o + i] = get(io, v0 + valueIndex(n, t, c.groups, g - c.firstGroup, r, u++) * vb);
        }
      }
    }
  }
  let v = at + tileBytes(t, cols, n, vb).tailAt;
  for (let r = 0; r < t; r++) {
    for (let c = cols - tail; c < cols; c++) {
      dst[(row + r) * cols + c] = get(io, v);
      v += vb;
    }
  }
  return -1;
}
