// unpack: a tensor of a packed file back to dense row-major values (f16 widened to f32,
// pruned and n = 4 positions zero), for tests and tools; kernels read the packed bytes.
import { SsmcError } from '../../errors.ts';
import { f16BitsToF32 } from '../../util/half.ts';
import { decodeTile } from './cn4-codec.ts';
import { tileBytes, valueBytes } from './format.ts';
import type { PackedWeights } from './read.ts';
import { findPackedTensor } from './read.ts';

/** Largest tensor unpack allocates (elements): n = 4 rows take no bytes, so the file cannot bound it. */
const MAX_ELEMENTS = 2 ** 30;

export function unpack(file: PackedWeights, name: string): Float32Array | Int32Array {
  const t = findPackedTensor(file, name);
  const numel = t.shape.reduce((a, b) => a * b, 1);
  if (numel > MAX_ELEMENTS) throw new SsmcError('E_TOO_LARGE', `tensor '${name}' has ${numel} elements, more than unpack allocates (${MAX_ELEMENTS})`, { file: file.file, what: name });
  const view = new DataView(file.bytes.buffer, file.bytes.byteOffset, file.bytes.byteLength);
  if (t.dtype === 'i32') {
    const out = new Int32Array(numel);
    for (let i = 0; i < numel; i++) out[i] = view.getInt32(t.offset + 4 * i, true);
    return out;
  }
  const out = new Float32Array(numel);
  if (t.layout === 'dense') {
    for (let i = 0; i < numel; i++) out[i] = t.dtype === 'f16' ? f16BitsToF32(view.getUint16(t.offset + 2 * i, true)) : view.getFloat32(t.offset + 4 * i, true);
    return out;
  }
  // Nothing to decode (and a corrupt file may claim billions of empty rows).
  if (numel === 0) return out;
  const cols = t.shape[1];
  const io = { dtype: t.dtype, view };
  const tileRows = t.tileRows!;
  for (const s of t.segments!) {
    if (s.n === 4) continue;
    let at = t.offset + s.offset;
    for (let r = 0; r < s.rows; r += tileRows) {
      const rows = Math.min(tileRows, s.rows - r);
      const bad = decodeTile(out, { cols, n: s.n, row: s.firstRow + r, rows }, io, at);
      if (bad >= 0) {
        throw new SsmcError('E_HEADER', `tensor '${name}': invalid code in the tile of rows ${s.firstRow + r}..${s.firstRow + r + rows - 1}`, { file: file.file, offset: bad, what: name });
      }
      at += tileBytes(rows, cols, s.n, valueBytes(t.dtype)).size;
    }
  }
  return out;
}
