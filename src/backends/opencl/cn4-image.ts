// The compact image form of a C_n^4 weight (specs/opencl-backend.md, "C_n^4 weights in
// images"): only the kept values go into RGBA texels, so an image reads the same bytes
// per token as the packed buffer instead of the dense bytes of an expanded image.
//
// Per stored row (n < 4) of G full groups and w tail columns:
//   texels [0, vt):  the kept values of groups 0..G-1 back to back, ascending column
//                    inside a group (vt = ceil(G * (4 - n) / 4); the last texel is
//                    zero-padded), so an n = 2 texel is 2 groups, an n = 3 texel 4
//                    groups, 3 n = 1 texels 4 groups, an n = 0 texel 1 group;
//   texel vt:        the w tail values (only when w > 0), zero-padded;
//   codes:           G codes of bits(n) bits (the packed format's version 3 codes:
//                    n = 2 two 2-bit kept positions), LSB-first, in a separate byte
//                    buffer, each row padded to whole 32-bit words (gathered from the
//                    packed tile's chunks by cod_cn4).
// Rows are laid out one after another in row order (n = 4 rows take nothing), as one
// linear sequence of texels wrapped into an image `width` texels wide (a power of two,
// at most IMAGE_WIDTH), so texel i sits at (i % width, i / width).
// Everything here is layout arithmetic from the packed file's segment table; the
// kernels (templates/opencl/partials/img_cn4.hbs, cod_cn4.hbs) do the copying on the
// device when the model is opened, from the packed bytes.
import { SsmcError } from '../../errors.ts';
import type { PackedTensorInfo } from '../packed/index.ts';
import { CHUNK_GROUPS, CODE_BITS, N1_BLOCK, rowGroups, tileBytes, valueBytes } from '../packed/index.ts';

/**
 * Groups per chunk of a packed tile (version 3) as the kernels compute them (prelude:
 * ssmc_cn4_sh, 1 << 6 for n = 1 and 3, 1 << 5 for n = 2, 16 t code bytes per full
 * chunk); checked against the format's CHUNK_GROUPS when a layout is made.
 */
export const KERNEL_CHUNK_GROUPS: readonly number[] = [0, 64, 32, 64, 0];

/**
 * Groups per block of n = 1 values (u-major inside a block) as the kernels compute them
 * (prelude: ssmc_cn4_group, linear_cn4); checked against the format's N1_BLOCK with the
 * chunks.
 */
export const KERNEL_N1_BLOCK = 4;

/** Widest compact image (texels): a power of two below every OpenCL 1.2 device's minimum 8192. */
export const IMAGE_WIDTH = 4096;

export interface Cn4ImageSegment {
  readonly firstRow: number;
  readonly rows: number;
  readonly n: number;
  /** Byte offset of the segment in the packed tensor, and bytes of a full tile of 4 rows. */
  readonly offset: number;
  readonly tileBytes: number;
  /** First texel of the segment, texels per row. */
  readonly texBase: number;
  readonly rowTexels: number;
  /** First byte of the segment in the codes buffer, code bytes per row (a multiple of 4). */
  readonly codeBase: number;
  readonly rowCodeBytes: number;
}

export interface Cn4ImageLayout {
  readonly groups: number;
  readonly tail: number;
  readonly segments: readonly Cn4ImageSegment[];
  /** Texels holding values (the image may have a few more, zero, to fill its last line). */
  readonly texels: number;
  readonly width: number;
  readonly log2Width: number;
  readonly height: number;
  /** Bytes of the codes buffer (0 when no row has codes). */
  readonly codeBytes: number;
  /** Bytes of one texel: 4 values of the weight's dtype. */
  readonly texelBytes: number;
}

/** Texels of one stored row with n pruned per group (0 for n = 4). */
export function rowTexels(cols: number, n: number): number {
  if (n === 4) return 0;
  const { groups, tail } = rowGroups(cols);
  return Math.ceil((groups * (4 - n)) / 4) + (tail > 0 ? 1 : 0);
}

/** Code bytes of one row with n pruned per group, padded to 32-bit words. */
export function rowCodeBytes(cols: number, n: number): number {
  return 4 * Math.ceil((rowGroups(cols).groups * CODE_BITS[n]) / 32);
}

export function cn4ImageLayout(w: PackedTensorInfo): Cn4ImageLayout {
  if (w.layout !== 'cn4' || w.shape.length !== 2 || !w.segments) throw new SsmcError('E_INTERNAL', `OpenCL backend: @${w.name} is not a C_n^4 matrix`);
  if (w.tileRows !== 4) throw new SsmcError('E_UNSUPPORTED', `OpenCL backend: C_n^4 weight @${w.name} has tiles of ${w.tileRows} rows, the kernels read tiles of 4`);
  for (let n = 1; n <= 3; n++) {
    if (CHUNK_GROUPS[n] !== KERNEL_CHUNK_GROUPS[n] || (CHUNK_GROUPS[n] * CODE_BITS[n]) / 8 !== 16) throw new SsmcError('E_INTERNAL', `OpenCL backend: the kernels read chunks of ${KERNEL_CHUNK_GROUPS[n]} groups at n = ${n}, the packed format has ${CHUNK_GROUPS[n]}`);
  }
  if (N1_BLOCK !== KERNEL_N1_BLOCK) throw new SsmcError('E_INTERNAL', `OpenCL backend: the kernels read n = 1 values in blocks of ${KERNEL_N1_BLOCK} groups, the packed format has ${N1_BLOCK}`);
  const K = w.shape[1];
  const { groups, tail } = rowGroups(K);
  const vb = valueBytes(w.dtype);
  let tex = 0;
  let code = 0;
  const segments = w.segments.map((s) => {
    const seg: Cn4ImageSegment = {
      firstRow: s.firstRow,
      rows: s.rows,
      n: s.n,
      offset: s.offset,
      tileBytes: tileBytes(4, K, s.n, vb).size,
      texBase: tex,
      rowTexels: rowTexels(K, s.n),
      codeBase: code,
      rowCodeBytes: rowCodeBytes(K, s.n),
    };
    tex += seg.rows * seg.rowTexels;
    code += seg.rows * seg.rowCodeBytes;
    return seg;
  });
  let width = 1;
  while (width < Math.min(tex, IMAGE_WIDTH)) width *= 2;
  return { groups, tail, segments, texels: tex, width, log2Width: Math.log2(width), height: Math.max(1, Math.ceil(tex / width)), codeBytes: code, texelBytes: 4 * vb };
}

/** Bytes a decode step reads of the weight through its compact image: value texels plus codes. */
export function cn4ImageBytes(l: Cn4ImageLayout): number {
  return l.texels * l.texelBytes + l.codeBytes;
}

/** The segment table the kernels read (prelude: ssmc_cn4_find), SEG ints per segment. */
export const SEG = 9;
export function segmentTable(l: Cn4ImageLayout): string {
  const rows = l.segments.map((s) => [s.firstRow, s.rows, s.n, s.offset, s.tileBytes, s.texBase, s.rowTexels, s.codeBase, s.rowCodeBytes].join(', '));
  return rows.join(',\n  ') || '0, 0, 4, 0, 0, 0, 0, 0, 0';
}
