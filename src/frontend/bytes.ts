// Random-access byte sources, so readers can check a header against the real file
// size before allocating anything, and read one tensor at a time from files larger
// than a Node buffer.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { SsmcError } from '../errors.ts';

export interface ByteSource {
  /** Name used in error locations (a path, or '<memory>'). */
  readonly name: string;
  readonly size: number;
  /** Reads exactly `length` bytes at `offset`; throws E_TRUNCATED past the end. */
  read(offset: number, length: number): Uint8Array;
  close(): void;
}

export function memorySource(bytes: Uint8Array, name = '<memory>'): ByteSource {
  return {
    name,
    size: bytes.length,
    read(offset, length) {
      if (offset < 0 || length < 0 || offset + length > bytes.length) {
        throw new SsmcError('E_TRUNCATED', `need ${length} bytes at offset ${offset}, file has ${bytes.length}`, { file: name, offset });
      }
      return bytes.subarray(offset, offset + length);
    },
    close() {},
  };
}

export function fileSource(path: string): ByteSource {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw new SsmcError('E_IO', `cannot open: ${(e as Error).message}`, { file: path });
  }
  const size = fstatSync(fd).size;
  return {
    name: path,
    size,
    read(offset, length) {
      if (offset < 0 || length < 0 || offset + length > size) {
        throw new SsmcError('E_TRUNCATED', `need ${length} bytes at offset ${offset}, file has ${size}`, { file: path, offset });
      }
      const out = new Uint8Array(length);
      let done = 0;
      while (done < length) {
        const n = readSync(fd, out, done, Math.min(length - done, 1 << 30), offset + done);
        if (n <= 0) throw new SsmcError('E_TRUNCATED', `unexpected end of file`, { file: path, offset: offset + done });
        done += n;
      }
      return out;
    },
    close() {
      closeSync(fd);
    },
  };
}
