// The packed file's checksum: CRC-32 over the whole file with the 4 checksum bytes
// (header offset 56) read as zero, so header, table, data and padding are all covered.
import { crc32 } from './crc32.ts';
import { H } from './format.ts';

const ZERO4 = new Uint8Array(4);

export function fileChecksum(bytes: Uint8Array): number {
  let c = crc32(bytes.subarray(0, H.checksum));
  c = crc32(ZERO4, c);
  return crc32(bytes.subarray(H.checksum + 4), c);
}

/** The checksum a packed file's header stores, as 8 hex digits (manifests name the weights by it). */
export function storedChecksumHex(bytes: Uint8Array): string {
  return new DataView(bytes.buffer, bytes.byteOffset).getUint32(H.checksum, true).toString(16).padStart(8, '0');
}
