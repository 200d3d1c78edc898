// Hugging Face safetensors: reader and writer.
//
// The reader validates the whole header against the real file size before it allocates
// any tensor, so a hostile or truncated file fails with a typed SsmcError instead of a
// crash or a multi-gigabyte allocation. The writer emits the same layout as the HF
// writer (header JSON padded with spaces to a multiple of 8 bytes, data contiguous).
//
// The helpers at the bottom (lazy tensors, little-endian byte views) are shared with
// the GGUF writer.
import { constants as bufferConstants } from 'node:buffer';
import { SsmcError, type ErrorCode } from '../errors.ts';
import type { ByteSource } from './bytes.ts';
import { bytesPerElement, elementCount, type RawData, type RawTensor, type StorageDType } from './raw-tensor.ts';
import { writeStreamAtomic } from '../util/atomic-write.ts';

/** The HF implementation's limit; a larger header is refused before it is read. */
export const MAX_HEADER_BYTES = 100_000_000;

const FROM_NAME = new Map<string, StorageDType>([['F32', 'f32'], ['F16', 'f16'], ['BF16', 'bf16']]);
const TO_NAME: Record<StorageDType, string> = { f32: 'F32', f16: 'F16', bf16: 'BF16' };
/** Valid safetensors dtypes we cannot load: reported as unsupported rather than unknown. */
const KNOWN_UNSUPPORTED = new Set([
  'BOOL', 'U8', 'I8', 'U16', 'I16', 'U32', 'I32', 'U64', 'I64', 'F64', 'C64',
  'F8_E4M3', 'F8_E5M2', 'F8_E8M0', 'F4', 'F6_E2M3', 'F6_E3M2',
]);

export interface SafetensorsEntry {
  readonly dtype: StorageDType;
  readonly shape: readonly number[];
  /** Absolute file offsets of the tensor's bytes, [begin, end). */
  readonly begin: number;
  readonly end: number;
}

export interface SafetensorsFile {
  readonly metadata: Readonly<Record<string, string>>;
  /** Tensors in the order their data appears in the file. */
  readonly entries: ReadonlyMap<string, SafetensorsEntry>;
  /** Reads one tensor (E_MISSING_TENSOR for an unknown name). */
  read(name: string): RawTensor;
}

export function openSafetensors(src: ByteSource): SafetensorsFile {
  const file = src.name;
  const fail = (code: ErrorCode, message: string, offset: number, what?: string): never => {
    throw new SsmcError(code, message, { file, offset, what });
  };

  if (src.size < 8) fail('E_TRUNCATED', `file has ${src.size} bytes; the header length alone needs 8`, 0);
  const lenBytes = src.read(0, 8);
  const n = new DataView(lenBytes.buffer, lenBytes.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_BYTES)) fail('E_TOO_LARGE', `header length ${n} exceeds the ${MAX_HEADER_BYTES}-byte limit`, 0);
  const headerLen = Number(n);
  if (8 + headerLen > src.size) fail('E_TRUNCATED', `header length ${headerLen} runs past the end of the ${src.size}-byte file`, 0);

  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(src.read(8, headerLen)));
  } catch (e) {
    return fail('E_HEADER', `header is not valid UTF-8 JSON: ${(e as Error).message}`, 8);
  }
  if (!isObject(header)) return fail('E_HEADER', 'header must be a JSON object', 8);

  const dataStart = 8 + headerLen;
  const dataLen = src.size - dataStart;
  let metadata: Record<string, string> = {};
  const list: Array<[string, SafetensorsEntry]> = [];

  for (const [name, raw] of Object.entries(header)) {
    if (name === '__metadata__') {
      if (!isObject(raw) || !Object.values(raw).every((v) => typeof v === 'string')) {
        fail('E_HEADER', '__metadata__ must be a map of strings', 8, name);
      }
      metadata = Object.fromEntries(Object.entries(raw as Record<string, string>));
      continue;
    }
    if (!isObject(raw)) return fail('E_HEADER', 'tensor entry must be an object', 8, name);
    const { dtype: dt, shape, data_offsets: offs } = raw;
    if (typeof dt !== 'string') return fail('E_HEADER', 'dtype must be a string', 8, name);
    const dtype = FROM_NAME.get(dt);
    if (!dtype) {
      const kind = KNOWN_UNSUPPORTED.has(dt) ? 'unsupported' : 'unknown';
      return fail('E_DTYPE', `${kind} dtype ${dt} for tensor ${name}`, 8, name);
    }
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      return fail('E_HEADER', `shape must be an array of non-negative integers, got ${JSON.stringify(shape)}`, 8, name);
    }
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((o) => Number.isSafeInteger(o))) {
      return fail('E_HEADER', `data_offsets must be [begin, end] integers, got ${JSON.stringify(offs)}`, 8, name);
    }
    const nbytes = checkedByteSize(shape as number[], dtype, src.size, (msg) => fail('E_TOO_LARGE', msg, 8, name));
    const [begin, end] = offs as [number, number];
    if (begin < 0 || begin > end) fail('E_OFFSETS', `data_offsets [${begin}, ${end}] are not an ordered range`, 8, name);
    if (end > dataLen) {
      fail('E_OFFSETS', `data_offsets [${begin}, ${end}] run past the ${dataLen}-byte data section (file truncated?)`, 8, name);
    }
    if (end - begin !== nbytes) {
      fail('E_SHAPE', `data_offsets span ${end - begin} bytes but shape [${shape.join(', ')}] of ${dt} needs ${nbytes}`, dataStart + begin, name);
    }
    list.push([name, { dtype, shape: shape as number[], begin: dataStart + begin, end: dataStart + end }]);
  }

  // Stable sort by position; empty tensors occupy no bytes and cannot overlap anything.
  list.sort((a, b) => a[1].begin - b[1].begin || a[1].end - b[1].end);
  let prev: [string, SafetensorsEntry] | undefined;
  for (const item of list) {
    if (item[1].end === item[1].begin) continue;
    if (prev && item[1].begin < prev[1].end) {
      fail('E_OFFSETS', `data of tensors ${prev[0]} and ${item[0]} overlap`, item[1].begin, item[0]);
    }
    prev = item;
  }

  const entries = new Map(list);
  return {
    metadata,
    entries,
    read(name) {
      const e = entries.get(name);
      if (!e) throw new SsmcError('E_MISSING_TENSOR', `no tensor named ${name}`, { file, what: name });
      return { dtype: e.dtype, shape: [...e.shape], data: decodeLE(e.dtype, src.read(e.begin, e.end - e.begin)) };
    },
  };
}

export function writeSafetensors(
  tensors: Iterable<[string, TensorInput]>,
  metadata?: Readonly<Record<string, string>>,
): Uint8Array {
  const { header, items, total } = planSafetensors(tensors, metadata);
  const out = allocOutput(total);
  out.set(header, 0);
  let at = header.length;
  for (const [name, t] of items) {
    const bytes = leBytes(materialize(name, t).data);
    out.set(bytes, at);
    at += bytes.length;
  }
  return out;
}

/** Streams tensor by tensor to `path` (atomically), so the file may exceed a Node buffer. */
export function writeSafetensorsFile(
  path: string,
  tensors: Iterable<[string, TensorInput]>,
  metadata?: Readonly<Record<string, string>>,
): void {
  const { header, items } = planSafetensors(tensors, metadata);
  writeStreamAtomic(path, (write) => {
    write(header);
    for (const [name, t] of items) write(leBytes(materialize(name, t).data));
  });
}

function planSafetensors(tensors: Iterable<[string, TensorInput]>, metadata?: Readonly<Record<string, string>>) {
  const items = [...tensors];
  const parts: string[] = [];
  if (metadata !== undefined) {
    const kv = Object.entries(metadata).map(([k, v]) => {
      if (typeof v !== 'string') throw new SsmcError('E_ARG', `metadata value for ${k} must be a string`, { what: k });
      return `${JSON.stringify(k)}:${JSON.stringify(v)}`;
    });
    parts.push(`"__metadata__":{${kv.join(',')}}`);
  }
  const seen = new Set<string>();
  let offset = 0;
  for (const [name, t] of items) {
    if (name === '__metadata__' || seen.has(name)) {
      throw new SsmcError('E_ARG', `tensor name ${JSON.stringify(name)} is reserved or repeated`, { what: name });
    }
    seen.add(name);
    const nbytes = checkTensorShape(name, t) * bytesPerElement(t.dtype);
    parts.push(`${JSON.stringify(name)}:{"dtype":"${TO_NAME[t.dtype]}","shape":[${t.shape.join(',')}],"data_offsets":[${offset},${offset + nbytes}]}`);
    offset += nbytes;
  }
  const json = new TextEncoder().encode(`{${parts.join(',')}}`);
  // Pad with spaces (valid JSON whitespace) so the data section starts 8-byte aligned.
  const padded = json.length + ((8 - (json.length % 8)) % 8);
  const header = new Uint8Array(8 + padded).fill(0x20, 8 + json.length);
  new DataView(header.buffer).setBigUint64(0, BigInt(padded), true);
  header.set(json, 8);
  return { header, items, total: header.length + offset };
}

function checkedByteSize(shape: readonly number[], dtype: StorageDType, limit: number, tooLarge: (msg: string) => never): number {
  if (shape.some((d) => d === 0)) return 0;
  const size = bytesPerElement(dtype);
  let count = 1;
  for (const d of shape) {
    count *= d;
    // Stop as soon as the claim exceeds the file: count stays below 2^53, so this is exact.
    if (count * size > limit) tooLarge(`shape [${shape.join(', ')}] needs more bytes than the ${limit}-byte file holds`);
  }
  return count * size;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

// ---------------------------------------------------------------------------------------
// Shared with the GGUF writer.

/** A tensor whose data is produced only when it is written, so a converter can stream. */
export interface LazyTensor {
  readonly dtype: StorageDType;
  readonly shape: readonly number[];
  load(): RawData;
}

export type TensorInput = RawTensor | LazyTensor;

/** Validates a shape for writing; returns the element count. */
export function checkTensorShape(name: string, t: TensorInput): number {
  if (!Object.hasOwn(TO_NAME, t.dtype)) throw new SsmcError('E_DTYPE', `unsupported dtype ${String(t.dtype)}`, { what: name });
  if (!t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new SsmcError('E_SHAPE', `shape [${t.shape.join(', ')}] must be non-negative integers`, { what: name });
  }
  const n = elementCount(t.shape);
  if (!Number.isSafeInteger(n * bytesPerElement(t.dtype))) {
    throw new SsmcError('E_TOO_LARGE', `shape [${t.shape.join(', ')}] is too large`, { what: name });
  }
  return n;
}

/** Loads a lazy tensor and checks its data against dtype and shape. */
export function materialize(name: string, t: TensorInput): RawTensor {
  const data = 'load' in t && typeof t.load === 'function' ? t.load() : (t as RawTensor).data;
  const want = t.dtype === 'f32' ? Float32Array : Uint16Array;
  if (!(data instanceof want)) {
    throw new SsmcError('E_DTYPE', `${t.dtype} data must be a ${want.name}`, { what: name });
  }
  if (data.length !== elementCount(t.shape)) {
    throw new SsmcError('E_SHAPE', `${data.length} elements do not fill shape [${t.shape.join(', ')}]`, { what: name });
  }
  return { dtype: t.dtype, shape: t.shape, data };
}

const HOST_LE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function byteSwap(bytes: Uint8Array, width: number): void {
  for (let i = 0; i + width <= bytes.length; i += width) bytes.subarray(i, i + width).reverse();
}

/** The little-endian bytes of tensor data (a view on little-endian hosts). */
export function leBytes(data: RawData): Uint8Array {
  const view = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (HOST_LE) return view;
  const copy = view.slice();
  byteSwap(copy, data.BYTES_PER_ELEMENT);
  return copy;
}

/** Copies little-endian bytes into a fresh, aligned typed array (file offsets may be unaligned). */
export function decodeLE(dtype: StorageDType, bytes: Uint8Array): RawData {
  const copy = bytes.slice();
  if (!HOST_LE) byteSwap(copy, bytesPerElement(dtype));
  return dtype === 'f32' ? new Float32Array(copy.buffer, 0, copy.length >> 2) : new Uint16Array(copy.buffer, 0, copy.length >> 1);
}

export function allocOutput(total: number): Uint8Array {
  if (total > bufferConstants.MAX_LENGTH) {
    throw new SsmcError('E_TOO_LARGE', `${total} bytes do not fit in one buffer; write to a file instead`);
  }
  return new Uint8Array(total);
}

