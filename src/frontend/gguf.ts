// llama.cpp GGUF (versions 2 and 3, little-endian): reader and writer.
//
// Layout and type codes as in llama.cpp's ggml/include/gguf.h, ggml/include/ggml.h,
// ggml/src/gguf.cpp and gguf-py/gguf/constants.py:
//   "GGUF" | u32 version | u64 tensor_count | u64 kv_count | kv pairs | tensor infos | pad | data
//   kv pair:     string key, i32 value type, value (array: i32 item type, u64 count, items)
//   string:      u64 byte length, then UTF-8 bytes without a terminator
//   tensor info: string name, u32 n_dims, i64 ne[n_dims] (innermost first), i32 ggml type,
//                u64 offset from the start of the data section (a multiple of the alignment)
// The data section starts at the next multiple of `general.alignment` (u32, default 32).
// llama.cpp's loader also expects every tensor, the last included, padded to the alignment.
//
// Every count and length is checked against the file size before anything is allocated:
// a claim larger than the whole file is E_TOO_LARGE, one that merely runs off the end is
// E_TRUNCATED.
import { SsmcError, type ErrorCode } from '../errors.ts';
import type { ByteSource } from './bytes.ts';
import { bytesPerElement, type RawTensor, type StorageDType } from './raw-tensor.ts';
import {
  allocOutput, checkTensorShape, decodeLE, leBytes, materialize, type TensorInput,
} from './safetensors.ts';
import { writeStreamAtomic } from '../util/atomic-write.ts';

export const GGUF_DEFAULT_ALIGNMENT = 32;
/** GGML_MAX_DIMS and GGML_MAX_NAME (name bytes + NUL) in ggml.h. */
const MAX_DIMS = 4;
const MAX_NAME_BYTES = 63;

export type GgufNumType = 'u8' | 'i8' | 'u16' | 'i16' | 'u32' | 'i32' | 'f32' | 'f64';
export type GgufBigType = 'u64' | 'i64';
export type GgufItemType = GgufNumType | GgufBigType | 'bool' | 'string';

/** A metadata value that keeps its GGUF type, so it can be written back exactly. */
export type GgufValue =
  | { readonly type: GgufNumType; readonly value: number }
  | { readonly type: GgufBigType; readonly value: bigint }
  | { readonly type: 'bool'; readonly value: boolean }
  | { readonly type: 'string'; readonly value: string }
  | GgufArray;

export type GgufArray =
  | { readonly type: 'array'; readonly itemType: GgufNumType; readonly value: readonly number[] }
  | { readonly type: 'array'; readonly itemType: GgufBigType; readonly value: readonly bigint[] }
  | { readonly type: 'array'; readonly itemType: 'bool'; readonly value: readonly boolean[] }
  | { readonly type: 'array'; readonly itemType: 'string'; readonly value: readonly string[] };

type ItemValue<T extends GgufItemType> =
  T extends GgufNumType ? number : T extends GgufBigType ? bigint : T extends 'bool' ? boolean : string;

/** Value constructors: `gguf.u32(4)`, `gguf.str('mamba')`, `gguf.arr('string', toks)`. */
export const gguf = {
  u8: (value: number): GgufValue => ({ type: 'u8', value }),
  i8: (value: number): GgufValue => ({ type: 'i8', value }),
  u16: (value: number): GgufValue => ({ type: 'u16', value }),
  i16: (value: number): GgufValue => ({ type: 'i16', value }),
  u32: (value: number): GgufValue => ({ type: 'u32', value }),
  i32: (value: number): GgufValue => ({ type: 'i32', value }),
  f32: (value: number): GgufValue => ({ type: 'f32', value }),
  f64: (value: number): GgufValue => ({ type: 'f64', value }),
  u64: (value: bigint | number): GgufValue => ({ type: 'u64', value: BigInt(value) }),
  i64: (value: bigint | number): GgufValue => ({ type: 'i64', value: BigInt(value) }),
  bool: (value: boolean): GgufValue => ({ type: 'bool', value }),
  str: (value: string): GgufValue => ({ type: 'string', value }),
  arr: <T extends GgufItemType>(itemType: T, value: readonly ItemValue<T>[]): GgufValue =>
    ({ type: 'array', itemType, value }) as GgufArray,
};

/** gguf_type codes: the index is the code (GGUF_TYPE_UINT8 = 0 … GGUF_TYPE_FLOAT64 = 12). */
const VALUE_TYPES = ['u8', 'i8', 'u16', 'i16', 'u32', 'i32', 'f32', 'bool', 'string', 'array', 'u64', 'i64', 'f64'] as const;
const VALUE_CODE = new Map<string, number>(VALUE_TYPES.map((t, i) => [t, i]));
/** Fixed sizes; a string is at least its 8-byte length. */
const ITEM_BYTES: Record<GgufItemType, number> = {
  u8: 1, i8: 1, u16: 2, i16: 2, u32: 4, i32: 4, f32: 4, bool: 1, string: 8, u64: 8, i64: 8, f64: 8,
};

/** ggml_type codes (ggml.h); only the float types we load map to a StorageDType. */
const GGML_NAMES: Record<number, string> = {
  0: 'F32', 1: 'F16', 2: 'Q4_0', 3: 'Q4_1', 6: 'Q5_0', 7: 'Q5_1', 8: 'Q8_0', 9: 'Q8_1', 10: 'Q2_K', 11: 'Q3_K',
  12: 'Q4_K', 13: 'Q5_K', 14: 'Q6_K', 15: 'Q8_K', 16: 'IQ2_XXS', 17: 'IQ2_XS', 18: 'IQ3_XXS', 19: 'IQ1_S',
  20: 'IQ4_NL', 21: 'IQ3_S', 22: 'IQ2_S', 23: 'IQ4_XS', 24: 'I8', 25: 'I16', 26: 'I32', 27: 'I64', 28: 'F64',
  29: 'IQ1_M', 30: 'BF16', 34: 'TQ1_0', 35: 'TQ2_0', 39: 'MXFP4', 40: 'NVFP4', 41: 'Q1_0',
};
export const GGML_TYPE: Readonly<Record<StorageDType, number>> = { f32: 0, f16: 1, bf16: 30 };
const FROM_GGML = new Map<number, StorageDType>([[0, 'f32'], [1, 'f16'], [30, 'bf16']]);

export interface GgufTensorInfo {
  readonly dtype: StorageDType;
  /** Row-major: GGUF's ne reversed. */
  readonly shape: readonly number[];
  /** Absolute file offset of the data. */
  readonly offset: number;
  readonly nbytes: number;
}

export interface GgufFile {
  readonly version: number;
  readonly alignment: number;
  /** Absolute offset of the (aligned) data section. */
  readonly dataOffset: number;
  /** In file order. */
  readonly metadata: ReadonlyMap<string, GgufValue>;
  /** In file order. */
  readonly tensors: ReadonlyMap<string, GgufTensorInfo>;
  /** Reads one tensor (E_MISSING_TENSOR for an unknown name). */
  read(name: string): RawTensor;
}

export function openGguf(src: ByteSource): GgufFile {
  const c: Cursor = new Cursor(src); // explicit type: lets `never` from c.fail narrow
  const magic = c.bytes(4, 'magic');
  if (String.fromCharCode(...magic) !== 'GGUF') c.fail('E_MAGIC', `not a GGUF file (magic ${hex(magic)})`, 0);
  const version = c.u32('version');
  if (version !== 2 && version !== 3) {
    const hint = version === 1 ? ' (GGUF v1 is obsolete)' : (version & 0xffff) === 0 ? ' (big-endian file?)' : '';
    c.fail('E_VERSION', `GGUF version ${version} is not supported, only 2 and 3${hint}`, 4);
  }
  const nTensors = c.count(c.u64('tensor count'), 24, 'tensor count');
  const nKv = c.count(c.u64('key/value count'), 13, 'key/value count');

  const metadata = new Map<string, GgufValue>();
  let alignAt = 0;
  for (let i = 0; i < nKv; i++) {
    const at = c.pos;
    const key = c.string('key');
    if (key === '') c.fail('E_HEADER', 'empty metadata key', at);
    if (metadata.has(key)) c.fail('E_HEADER', `duplicate metadata key ${key}`, at, key);
    if (key === 'general.alignment') alignAt = at;
    metadata.set(key, readValue(c, key));
  }

  let alignment = GGUF_DEFAULT_ALIGNMENT;
  const a = metadata.get('general.alignment');
  if (a) {
    if (a.type !== 'u32' || a.value === 0 || (a.value & (a.value - 1)) !== 0) {
      c.fail('E_HEADER', `general.alignment must be a u32 power of two, got ${a.type} ${String(a.value)}`, alignAt, 'general.alignment');
    }
    alignment = a.value as number;
  }

  const infos: Array<{ name: string; at: number; rel: bigint; dtype: StorageDType; shape: number[]; nbytes: number; offset: number }> = [];
  const names = new Set<string>();
  for (let i = 0; i < nTensors; i++) {
    const at = c.pos;
    const name = c.string('tensor name');
    if (names.has(name)) c.fail('E_HEADER', `duplicate tensor name ${name}`, at, name);
    names.add(name);
    const nDims = c.u32(name);
    if (nDims > MAX_DIMS) c.fail('E_SHAPE', `tensor ${name} has ${nDims} dimensions; ggml allows at most ${MAX_DIMS}`, at, name);
    const ne: bigint[] = [];
    for (let j = 0; j < nDims; j++) {
      const d = c.i64(name);
      if (d < 0n) c.fail('E_SHAPE', `tensor ${name} has negative dimension ${d}`, at, name);
      ne.push(d);
    }
    const code = c.i32(name);
    const rel = c.u64(name);
    const dtype = FROM_GGML.get(code);
    if (!dtype) {
      const type = GGML_NAMES[code] ?? `unknown ggml type ${code}`;
      c.fail('E_GGUF_TYPE', `tensor ${name} has type ${type}; only F32, F16 and BF16 are supported`, at, name);
    }
    const nbytes = ne.reduce((p, d) => p * d, 1n) * BigInt(bytesPerElement(dtype));
    if (nbytes > BigInt(src.size) || ne.some((d) => d > BigInt(Number.MAX_SAFE_INTEGER))) {
      c.fail('E_TOO_LARGE', `tensor ${name} of shape [${[...ne].reverse().join(', ')}] needs more bytes than the ${src.size}-byte file holds`, at, name);
    }
    infos.push({ name, at, rel, dtype, shape: ne.map(Number).reverse(), offset: 0, nbytes: Number(nbytes) });
  }

  const dataOffset = alignUp(c.pos, alignment);
  for (const t of infos) {
    if (t.rel % BigInt(alignment) !== 0n) {
      c.fail('E_OFFSETS', `tensor ${t.name} offset ${t.rel} is not a multiple of the alignment ${alignment}`, t.at, t.name);
    }
    const abs = BigInt(dataOffset) + t.rel;
    if (abs > BigInt(src.size)) c.fail('E_OFFSETS', `tensor ${t.name} offset ${t.rel} is past the end of the file`, t.at, t.name);
    if (abs + BigInt(t.nbytes) > BigInt(src.size)) {
      c.fail('E_TRUNCATED', `data of tensor ${t.name} runs past the end of the ${src.size}-byte file`, Number(abs), t.name);
    }
    t.offset = Number(abs);
  }
  const byPos = infos.filter((t) => t.nbytes > 0).sort((x, y) => x.offset - y.offset);
  for (let i = 1; i < byPos.length; i++) {
    const [p, t] = [byPos[i - 1], byPos[i]];
    if (t.offset < p.offset + p.nbytes) c.fail('E_OFFSETS', `data of tensors ${p.name} and ${t.name} overlap`, t.offset, t.name);
  }

  const tensors = new Map<string, GgufTensorInfo>(
    infos.map((t) => [t.name, { dtype: t.dtype, shape: t.shape, offset: t.offset, nbytes: t.nbytes }]),
  );
  return {
    version,
    alignment,
    dataOffset,
    metadata,
    tensors,
    read(name) {
      const t = tensors.get(name);
      if (!t) throw new SsmcError('E_MISSING_TENSOR', `no tensor named ${name}`, { file: src.name, what: name });
      return { dtype: t.dtype, shape: [...t.shape], data: decodeLE(t.dtype, src.read(t.offset, t.nbytes)) };
    },
  };
}

function readValue(c: Cursor, key: string): GgufValue {
  const at = c.pos;
  const type = valueType(c, key, at);
  if (type !== 'array') return { type, value: readItem(c, type, key) } as GgufValue;
  const itemType = valueType(c, key, at);
  if (itemType === 'array') c.fail('E_HEADER', `nested arrays are not supported (key ${key})`, at, key);
  const n = c.count(c.u64(key), ITEM_BYTES[itemType], key);
  const value: Array<number | bigint | boolean | string> = [];
  for (let i = 0; i < n; i++) value.push(readItem(c, itemType, key));
  return { type: 'array', itemType, value } as GgufValue;
}

function valueType(c: Cursor, key: string, at: number): (typeof VALUE_TYPES)[number] {
  const code = c.i32(key);
  const type = VALUE_TYPES[code];
  if (type === undefined) c.fail('E_HEADER', `key ${key} has unknown value type ${code}`, at, key);
  return type;
}

function readItem(c: Cursor, t: GgufItemType, what: string): number | bigint | boolean | string {
  switch (t) {
    case 'u8': return c.u8(what);
    case 'i8': return c.fixed(1, what, (v, o) => v.getInt8(o));
    case 'u16': return c.fixed(2, what, (v, o) => v.getUint16(o, true));
    case 'i16': return c.fixed(2, what, (v, o) => v.getInt16(o, true));
    case 'u32': return c.u32(what);
    case 'i32': return c.i32(what);
    case 'f32': return c.fixed(4, what, (v, o) => v.getFloat32(o, true));
    case 'f64': return c.fixed(8, what, (v, o) => v.getFloat64(o, true));
    case 'u64': return c.u64(what);
    case 'i64': return c.i64(what);
    case 'bool': return c.u8(what) !== 0;
    case 'string': return c.string(what);
  }
}

/** Sequential little-endian reads through a window, so small fields cost no system call each. */
class Cursor {
  pos = 0;
  private win: Uint8Array = new Uint8Array(0);
  private view = new DataView(this.win.buffer);
  private winStart = 0;
  private static readonly WINDOW = 1 << 20;
  private static readonly utf8 = new TextDecoder('utf-8', { fatal: true });

  constructor(private readonly src: ByteSource) {}

  fail(code: ErrorCode, message: string, offset = this.pos, what?: string): never {
    throw new SsmcError(code, message, { file: this.src.name, offset, what });
  }

  /**
   * Makes n bytes at pos readable; returns their offset in the window. `claimed` marks a
   * length read from the file, which is E_TOO_LARGE when no file this size could hold it.
   */
  private need(n: number | bigint, what: string, claimed = false): number {
    const size = this.src.size;
    if (claimed && n > size) this.fail('E_TOO_LARGE', `${what}: ${n} bytes claimed, but the file has only ${size}`);
    const k = Number(n);
    if (this.pos + k > size) this.fail('E_TRUNCATED', `${what}: need ${k} bytes, file ends after ${size - this.pos}`);
    if (this.pos < this.winStart || this.pos + k > this.winStart + this.win.length) {
      this.win = this.src.read(this.pos, Math.max(k, Math.min(Cursor.WINDOW, size - this.pos)));
      this.view = new DataView(this.win.buffer, this.win.byteOffset, this.win.byteLength);
      this.winStart = this.pos;
    }
    return this.pos - this.winStart;
  }

  /** Checks that `n` items of at least `itemBytes` each can fit in the rest of the file. */
  count(n: bigint, itemBytes: number, what: string): number {
    const bytes = n * BigInt(itemBytes);
    if (bytes > BigInt(this.src.size)) this.fail('E_TOO_LARGE', `${what}: ${n} items cannot fit in a ${this.src.size}-byte file`);
    if (this.pos + Number(bytes) > this.src.size) this.fail('E_TRUNCATED', `${what}: ${n} items run past the end of the file`);
    return Number(n);
  }

  fixed<T>(n: number, what: string, get: (v: DataView, o: number) => T): T {
    const o = this.need(n, what);
    this.pos += n;
    return get(this.view, o);
  }

  u8(what: string): number { return this.fixed(1, what, (v, o) => v.getUint8(o)); }
  u32(what: string): number { return this.fixed(4, what, (v, o) => v.getUint32(o, true)); }
  i32(what: string): number { return this.fixed(4, what, (v, o) => v.getInt32(o, true)); }
  u64(what: string): bigint { return this.fixed(8, what, (v, o) => v.getBigUint64(o, true)); }
  i64(what: string): bigint { return this.fixed(8, what, (v, o) => v.getBigInt64(o, true)); }

  bytes(n: number, what: string): Uint8Array {
    const o = this.need(n, what);
    this.pos += n;
    return this.win.subarray(o, o + n);
  }

  string(what: string): string {
    const at = this.pos;
    const len = this.u64(what);
    const o = this.need(len, what, true);
    const k = Number(len);
    this.pos += k;
    try {
      return Cursor.utf8.decode(this.win.subarray(o, o + k));
    } catch {
      return this.fail('E_HEADER', `${what}: string is not valid UTF-8`, at);
    }
  }
}

// ---------------------------------------------------------------------------------------
// Writer

export interface GgufWriteOptions {
  /** Written in this order; `general.alignment` only if present here. */
  readonly metadata: ReadonlyArray<readonly [string, GgufValue]>;
  /** Tensor infos and data in this order. */
  readonly tensors: ReadonlyArray<readonly [string, TensorInput]>;
  /** Must agree with `general.alignment` in metadata (32 when absent there). */
  readonly alignment?: number;
}

export function writeGguf(opts: GgufWriteOptions): Uint8Array {
  const { header, items, total } = planGguf(opts);
  const out = allocOutput(total);
  out.set(header, 0);
  for (const { name, tensor, at } of items) out.set(leBytes(materialize(name, tensor).data), header.length + at);
  return out; // padding bytes are already zero
}

/** Streams tensor by tensor to `path` (atomically), so the file may exceed a Node buffer. */
export function writeGgufFile(path: string, opts: GgufWriteOptions): void {
  const { header, items, alignment } = planGguf(opts);
  writeStreamAtomic(path, (write) => {
    write(header);
    for (const { name, tensor } of items) {
      const bytes = leBytes(materialize(name, tensor).data);
      write(bytes);
      write(new Uint8Array(alignUp(bytes.length, alignment) - bytes.length));
    }
  });
}

function planGguf(opts: GgufWriteOptions) {
  const argError = (msg: string, what?: string): never => { throw new SsmcError('E_ARG', msg, { what }); };
  const w = new ByteWriter();
  w.bytes(new TextEncoder().encode('GGUF'));
  w.u32(3);
  w.u64(BigInt(opts.tensors.length));
  w.u64(BigInt(opts.metadata.length));

  let alignment = GGUF_DEFAULT_ALIGNMENT;
  const keys = new Set<string>();
  for (const [key, v] of opts.metadata) {
    if (key === '' || keys.has(key)) argError(`metadata key ${JSON.stringify(key)} is empty or repeated`, key);
    keys.add(key);
    if (!validValue(v)) argError(`metadata value for ${key} does not fit its type ${(v as { type?: unknown } | undefined)?.type}`, key);
    if (key === 'general.alignment') {
      if (v.type !== 'u32' || v.value === 0 || (v.value & (v.value - 1)) !== 0) argError('general.alignment must be a u32 power of two', key);
      alignment = v.value as number;
    }
    w.string(key);
    w.i32(VALUE_CODE.get(v.type)!);
    if (v.type === 'array') {
      w.i32(VALUE_CODE.get(v.itemType)!);
      w.u64(BigInt(v.value.length));
      for (const item of v.value) w.item(v.itemType, item);
    } else {
      w.item(v.type, v.value);
    }
  }
  if (opts.alignment !== undefined && opts.alignment !== alignment) {
    argError(`alignment ${opts.alignment} differs from general.alignment in metadata (${alignment})`);
  }

  const names = new Set<string>();
  const items: Array<{ name: string; tensor: TensorInput; at: number }> = [];
  let at = 0;
  for (const [name, tensor] of opts.tensors) {
    const nameBytes = new TextEncoder().encode(name).length;
    if (names.has(name) || nameBytes > MAX_NAME_BYTES) argError(`tensor name ${JSON.stringify(name)} is repeated or longer than ${MAX_NAME_BYTES} bytes`, name);
    names.add(name);
    const nbytes = checkTensorShape(name, tensor) * bytesPerElement(tensor.dtype);
    if (tensor.shape.length > MAX_DIMS) {
      throw new SsmcError('E_SHAPE', `${tensor.shape.length} dimensions; ggml allows at most ${MAX_DIMS}`, { what: name });
    }
    w.string(name);
    w.u32(tensor.shape.length);
    for (const d of [...tensor.shape].reverse()) w.u64(BigInt(d));
    w.i32(GGML_TYPE[tensor.dtype]);
    w.u64(BigInt(at));
    items.push({ name, tensor, at });
    at += alignUp(nbytes, alignment);
  }
  w.padTo(alignment);
  const header = w.result();
  return { header, items, alignment, total: header.length + at };
}

const INT_RANGE: Partial<Record<GgufItemType, [number, number]>> = {
  u8: [0, 0xff], i8: [-0x80, 0x7f], u16: [0, 0xffff], i16: [-0x8000, 0x7fff], u32: [0, 0xffffffff], i32: [-0x80000000, 0x7fffffff],
};

function validItem(t: GgufItemType, v: unknown): boolean {
  const range = INT_RANGE[t];
  if (range) return Number.isInteger(v) && (v as number) >= range[0] && (v as number) <= range[1];
  switch (t) {
    case 'f32': case 'f64': return typeof v === 'number';
    case 'u64': return typeof v === 'bigint' && v >= 0n && v < 1n << 64n;
    case 'i64': return typeof v === 'bigint' && v >= -(1n << 63n) && v < 1n << 63n;
    case 'bool': return typeof v === 'boolean';
    case 'string': return typeof v === 'string';
    default: return false;
  }
}

function validValue(v: GgufValue | undefined): v is GgufValue {
  if (!v || typeof v !== 'object') return false;
  if (v.type !== 'array') return VALUE_CODE.has(v.type) && validItem(v.type, v.value);
  return VALUE_CODE.has(v.itemType) && v.itemType !== ('array' as string) && Array.isArray(v.value)
    && (v.value as unknown[]).every((x) => validItem(v.itemType, x));
}

/** A growable little-endian byte buffer for the header; unwritten bytes stay zero. */
class ByteWriter {
  private buf = new Uint8Array(4096);
  private view = new DataView(this.buf.buffer);
  private len = 0;
  private static readonly utf8 = new TextEncoder();

  private room(n: number): number {
    if (this.len + n > this.buf.length) {
      let cap = this.buf.length * 2;
      while (cap < this.len + n) cap *= 2;
      const grown = new Uint8Array(cap);
      grown.set(this.buf.subarray(0, this.len));
      this.buf = grown;
      this.view = new DataView(grown.buffer);
    }
    const at = this.len;
    this.len += n;
    return at;
  }

  // room() may swap buf/view for bigger ones: reserve first, then write.
  private put(n: number, write: (d: DataView, at: number) => void): void {
    const at = this.room(n);
    write(this.view, at);
  }

  bytes(b: Uint8Array): void { const at = this.room(b.length); this.buf.set(b, at); }
  u32(v: number): void { this.put(4, (d, at) => d.setUint32(at, v, true)); }
  i32(v: number): void { this.put(4, (d, at) => d.setInt32(at, v, true)); }
  u64(v: bigint): void { this.put(8, (d, at) => d.setBigUint64(at, v, true)); }
  string(s: string): void {
    const b = ByteWriter.utf8.encode(s);
    this.u64(BigInt(b.length));
    this.bytes(b);
  }
  padTo(alignment: number): void { this.room(alignUp(this.len, alignment) - this.len); }
  result(): Uint8Array { return this.buf.slice(0, this.len); }

  item(t: GgufItemType, v: number | bigint | boolean | string): void {
    switch (t) {
      case 'u8': this.put(1, (d, at) => d.setUint8(at, v as number)); break;
      case 'i8': this.put(1, (d, at) => d.setInt8(at, v as number)); break;
      case 'u16': this.put(2, (d, at) => d.setUint16(at, v as number, true)); break;
      case 'i16': this.put(2, (d, at) => d.setInt16(at, v as number, true)); break;
      case 'u32': this.u32(v as number); break;
      case 'i32': this.i32(v as number); break;
      case 'f32': this.put(4, (d, at) => d.setFloat32(at, v as number, true)); break;
      case 'f64': this.put(8, (d, at) => d.setFloat64(at, v as number, true)); break;
      case 'u64': this.u64(v as bigint); break;
      case 'i64': this.put(8, (d, at) => d.setBigInt64(at, v as bigint, true)); break;
      case 'bool': this.put(1, (d, at) => d.setUint8(at, v ? 1 : 0)); break;
      case 'string': this.string(v as string); break;
    }
  }
}

function alignUp(n: number, alignment: number): number {
  return Math.ceil(n / alignment) * alignment;
}

function hex(b: Uint8Array): string {
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join(' ');
}
