// The packed C_n^4 weights file shared by the C and OpenCL backends
// (specs/packed-weights.md): constants and layout arithmetic, writer, validating reader,
// unpacking to dense for tests, and the size comparison with CSR.
export * from './format.ts';
export { crc32 } from './crc32.ts';
export { fileChecksum, storedChecksumHex } from './checksum.ts';
export { groupCode, keepMask } from './cn4-codec.ts';
export { packWeights } from './write.ts';
export type { PackOptions, PackedFile } from './write.ts';
export { readPackedWeights, findPackedTensor } from './read.ts';
export type { PackedWeights, ReadOptions } from './read.ts';
export { unpack } from './unpack.ts';
export { csrBytes, csrRatioAt50, packedCn4Bytes } from './size.ts';
export type { SizeComparison } from './size.ts';
