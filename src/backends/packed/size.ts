// Exact sizes of a C_n^4 tensor in the packed format against CSR with 32-bit indices
// (values + one 32-bit column index per kept weight + rows+1 32-bit row pointers), the
// comparison the design's "at least 1.5x smaller than CSR" target is about.
import { SsmcError } from '../../errors.ts';
import type { PackedDType } from './format.ts';
import { segmentBytes, valueBytes } from './format.ts';

export interface SizeComparison {
  /** Bytes of the tensor's data in the packed format (values, codes, chunk and tile padding). */
  readonly packedBytes: number;
  readonly csrBytes: number;
  /** csrBytes / packedBytes. */
  readonly ratio: number;
  /** Metadata of the packed form per group of 4 (codes and padding), in bits. */
  readonly metadataBitsPerGroup: number;
}

/** Packed cn4 bytes of a rows x cols tensor with the same n on every row. */
export function packedCn4Bytes(rows: number, cols: number, n: number, dtype: PackedDType, tileRows = 4): number {
  return segmentBytes(rows, cols, n, valueBytes(dtype), tileRows);
}

/** CSR bytes with 32-bit indices and row pointers for `nnz` kept weights. */
export function csrBytes(rows: number, nnz: number, dtype: PackedDType): number {
  return nnz * (valueBytes(dtype) + 4) + (rows + 1) * 4;
}

/**
 * The exact comparison at 50% sparsity (n = 2 on every row, 2 of every 4 weights kept)
 * for a rows x cols weight; CSR stores values in the same dtype.
 */
export function csrRatioAt50(rows: number, cols: number, dtype: PackedDType, tileRows = 4): SizeComparison {
  if (cols % 4 !== 0 || rows < 1) throw new SsmcError('E_ARG', `csrRatioAt50: cols must be a multiple of 4 and rows >= 1, got ${rows}x${cols}`);
  const groups = (rows * cols) / 4;
  const packedBytes = packedCn4Bytes(rows, cols, 2, dtype, tileRows);
  const csr = csrBytes(rows, 2 * groups, dtype);
  const valueBytesTotal = 2 * groups * valueBytes(dtype);
  return { packedBytes, csrBytes: csr, ratio: csr / packedBytes, metadataBitsPerGroup: ((packedBytes - valueBytesTotal) * 8) / groups };
}
