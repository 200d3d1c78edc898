// Weight data side table. Immutable by convention: `with` returns a new store that
// shares every untouched array; nobody writes into an array once it is stored.
import { SsmcError } from '../errors.ts';
import type { DType, TensorType } from './types.ts';
import { numel } from './types.ts';

/** f32 -> Float32Array, f16/bf16 -> raw bits in a Uint16Array, i32 -> Int32Array. */
export type WeightArray = Float32Array | Uint16Array | Int32Array;

export function arrayMatchesDType(a: WeightArray, dtype: DType): boolean {
  switch (dtype) {
    case 'f32': return a instanceof Float32Array;
    case 'f16':
    case 'bf16': return a instanceof Uint16Array;
    case 'i32': return a instanceof Int32Array;
  }
}

export class WeightStore {
  readonly #data: ReadonlyMap<string, WeightArray>;

  constructor(entries: Iterable<readonly [string, WeightArray]> = []) {
    this.#data = new Map(entries);
  }

  get size(): number {
    return this.#data.size;
  }

  has(name: string): boolean {
    return this.#data.has(name);
  }

  get(name: string): WeightArray {
    const a = this.#data.get(name);
    if (!a) throw new SsmcError('E_MISSING_TENSOR', `no data for weight @${name} (a graph read from IR text carries weight types, not values)`);
    return a;
  }

  tryGet(name: string): WeightArray | undefined {
    return this.#data.get(name);
  }

  names(): IterableIterator<string> {
    return this.#data.keys();
  }

  entries(): IterableIterator<[string, WeightArray]> {
    return this.#data.entries();
  }

  /** A new store with `name` set (or replaced) and everything else shared. */
  with(name: string, data: WeightArray): WeightStore {
    const m = new Map(this.#data);
    m.set(name, data);
    return new WeightStore(m);
  }

  without(name: string): WeightStore {
    const m = new Map(this.#data);
    m.delete(name);
    return new WeightStore(m);
  }

  /** Total bytes of stored data. */
  byteSize(): number {
    let n = 0;
    for (const a of this.#data.values()) n += a.byteLength;
    return n;
  }
}

export function checkWeightData(name: string, type: TensorType, data: WeightArray): string | undefined {
  if (!arrayMatchesDType(data, type.dtype)) return `data of @${name} is a ${data.constructor.name}, not storage for ${type.dtype}`;
  if (data.length !== numel(type.shape)) return `data of @${name} has ${data.length} elements, type needs ${numel(type.shape)}`;
  return undefined;
}
