// Encoding and decoding of one cn4 tile (t rows of one segment, interleaved): the
// values section holds, for each full group g, for each row of the tile, the kept
// values of that group in ascending position; then for each row its K % 4 tail values
// (dense). The codes section holds one code per (group, row) in the same order, packed
// LSB-first. See specs/packed-weights.md, section 5.
import { SsmcError } from '../../errors.ts';
import { f16BitsToF32, f32ToF16Bits } from '../../util/half.ts';
import type { PackedDType } from './format.ts';
import { CODE_BITS, rowGroups, tileBytes, valueBytes } from './format.ts';

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
 * (a canonical choice when a group holds more zeros than n). Returns -1 when the group
 * holds fewer than n zeros.
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
  return keep;
}

/** Keep-mask (bit i = position i kept) from a code; -1 for a code that is not valid for n. */
export function keepMask(n: number, code: number): number {
  if (n === 0) return 0b1111;
  if (n === 1) return 0b1111 & ~(1 << code);
  if (n === 3) return 1 << code;
  return popcount4(code) === 2 ? code : -1;
}

const popcount4 = (m: number) => (m & 1) + ((m >> 1) & 1) + ((m >> 2) & 1) + ((m >> 3) & 1);

export interface TileRef {
  /** The tensor's rows x cols values (f32; the source of truth for zeros). */
  readonly cols: number;
  readonly n: number;
  /** First row of the tile and its row count. */
  readonly row: number;
  readonly rows: number;
}

/** Writes one tile at byte offset `at`; throws naming `weight` and the row if a group is not C_n^4. */
export function encodeTile(src: Float32Array, tile: TileRef, io: ValueIO, at: number, weight: string): void {
  const { cols, n, row, rows: t } = tile;
  const { groups, tail } = rowGroups(cols);
  const vb = valueBytes(io.dtype);
  const { values } = tileBytes(t, cols, n, vb);
  const bits = CODE_BITS[n];
  let v = at;
  let bit = 0;
  const codesAt = at + values;
  for (let g = 0; g < groups; g++) {
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
      for (let i = 0; i < 4; i++) {
        if (mask & (1 << i)) {
          put(io, v, src[o + i]);
          v += vb;
        }
      }
      if (bits > 0) {
        const byte = codesAt + (bit >> 3);
        io.view.setUint8(byte, io.view.getUint8(byte) | (code << (bit & 7)));
        bit += bits;
      }
    }
  }
  for (let r = 0; r < t; r++) {
    for (let c = cols - tail; c < cols; c++) {
      put(io, v, src[(row + r) * cols + c]);
      v += vb;
    }
  }
}

/**
 * Decodes one tile into `dst` (rows x cols, zero where pruned). Returns false when a
 * code is not valid for n (a corrupt file).
 */
export function decodeTile(dst: Float32Array, tile: TileRef, io: ValueIO, at: number): boolean {
  const { cols, n, row, rows: t } = tile;
  const { groups, tail } = rowGroups(cols);
  const vb = valueBytes(io.dtype);
  const { values } = tileBytes(t, cols, n, vb);
  const bits = CODE_BITS[n];
  let v = at;
  let bit = 0;
  const codesAt = at + values;
  for (let g = 0; g < groups; g++) {
    for (let r = 0; r < t; r++) {
      let code = 0;
      if (bits > 0) {
        code = (io.view.getUint8(codesAt + (bit >> 3)) >> (bit & 7)) & ((1 << bits) - 1);
        bit += bits;
      }
      const mask = keepMask(n, code);
      if (mask < 0) return false;
      const o = (row + r) * cols + 4 * g;
      for (let i = 0; i < 4; i++) {
        if (mask & (1 << i)) {
          dst[o + i] = get(io, v);
          v += vb;
        }
      }
    }
  }
  for (let r = 0; r < t; r++) {
    for (let c = cols - tail; c < cols; c++) {
      dst[(row + r) * cols + c] = get(io, v);
      v += vb;
    }
  }
  return true;
}
