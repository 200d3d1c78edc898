// The op registry: one OpDef per op kind. An OpDef is the whole meaning of an op:
// its attributes, type inference, reference semantics, fusion class and cost.
// Adding an op is one file that calls `defineOp`.
import { SsmcError } from '../errors.ts';
import type { Attr, Attrs, Region } from './graph.ts';
import type { Tensor } from './tensor.ts';
import type { TensorType } from './types.ts';
import { dtypeBytes, numel } from './types.ts';

/**
 * How an op may fuse (after TVM's op patterns):
 * - elementwise: out[i] depends on in[i] only (broadcast allowed);
 * - injective: out[i] depends on one element of an input (split, gather);
 * - reduction: reduces along an axis (linear, norm, conv window, scan over state);
 * - opaque: never fused with neighbours.
 */
export type FusionClass = 'elementwise' | 'injective' | 'reduction' | 'opaque';

export type AttrKind = 'int' | 'float' | 'string' | 'bool' | 'ints' | 'floats';

export interface AttrSpec {
  readonly kind: AttrKind;
  readonly required?: boolean;
  readonly doc?: string;
}

export interface Cost {
  /** Bytes read and written (inputs + outputs, at their storage dtype). */
  readonly bytes: number;
  readonly flops: number;
}

export interface EvalContext {
  /** Runs a nested region (fused bodies) with the interpreter's semantics. */
  runRegion(region: Region, inputs: readonly Tensor[]): Tensor[];
}

export interface OpDef {
  readonly kind: string;
  readonly description: string;
  readonly fusion: FusionClass;
  /** Input names; a trailing `?` marks an optional input (only at the end). */
  readonly inputs: readonly string[];
  readonly attrs: Readonly<Record<string, AttrSpec>>;
  /** Any number of inputs (then `inputs` only documents them). */
  readonly variadic?: boolean;
  /**
   * For one-token ops: the op kind computing the same thing over a sequence (same
   * inputs, per-token inputs and outputs gaining a leading L axis). Used to lift a
   * decode graph to a prefill graph.
   */
  readonly sequenceForm?: string;
  /** True for ops that own a region (`body`). */
  readonly hasBody?: boolean;
  /** Output types from input types; throws an OpTypeError on invalid input. */
  infer(inputs: readonly TensorType[], attrs: Attrs, body?: Region): TensorType[];
  /** Reference semantics. Outputs are freshly allocated; inputs are never written. */
  evaluate(inputs: readonly Tensor[], attrs: Attrs, outTypes: readonly TensorType[], ctx: EvalContext, body?: Region): Tensor[];
  cost(inputs: readonly TensorType[], outputs: readonly TensorType[], attrs: Attrs): Cost;
  /**
   * Reverse-mode rule (vector-Jacobian product) for src/autodiff; optional, and kept
   * beside `evaluate` so an op's whole meaning stays in its file. Ops without one
   * cannot be differentiated through (the autodiff names them).
   */
  readonly vjp?: VjpRule;
}

/** What a VJP rule receives: the forward call and the gradients of its outputs. */
export interface VjpArgs {
  readonly inputs: readonly Tensor[];
  readonly outputs: readonly Tensor[];
  readonly attrs: Attrs;
  /** d loss / d output i, or undefined where the output does not reach the loss (zero). */
  readonly outGrads: readonly (Float64Array | undefined)[];
  /** Which inputs need a gradient (never an integer input). */
  readonly wants: readonly boolean[];
}

/** d loss / d input i (numel of input i) where `wants[i]`, undefined elsewhere. */
export type VjpRule = (args: VjpArgs) => (Float64Array | undefined)[];

/** Thrown by `infer`; the verifier attaches the node and location. */
export class OpTypeError extends Error {}

export function typeError(message: string): never {
  throw new OpTypeError(message);
}

const registry = new Map<string, OpDef>();

const OP_KIND = /^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$/;

export function defineOp(def: OpDef): OpDef {
  if (!OP_KIND.test(def.kind)) throw new SsmcError('E_UNKNOWN_OP', `op kind '${def.kind}' must be dotted lower_snake (e.g. nn.linear)`);
  if (registry.has(def.kind)) throw new SsmcError('E_UNKNOWN_OP', `op kind '${def.kind}' is already registered`);
  registry.set(def.kind, def);
  return def;
}

export function getOp(kind: string): OpDef {
  const d = registry.get(kind);
  if (!d) throw new SsmcError('E_UNKNOWN_OP', `unknown op '${kind}'`);
  return d;
}

export function findOp(kind: string): OpDef | undefined {
  return registry.get(kind);
}

export function listOps(): OpDef[] {
  return [...registry.values()].sort((a, b) => a.kind.localeCompare(b.kind));
}

export function inputArity(def: OpDef): { min: number; max: number } {
  if (def.variadic) return { min: 0, max: Infinity };
  const max = def.inputs.length;
  const min = def.inputs.filter((n) => !n.endsWith('?')).length;
  return { min, max };
}

/** Checks attributes against the spec; returns problems as messages. */
export function checkAttrs(def: OpDef, attrs: Attrs): string[] {
  const problems: string[] = [];
  for (const [name, spec] of Object.entries(def.attrs)) {
    if (spec.required && !(name in attrs)) problems.push(`missing attribute '${name}' (${spec.kind})`);
  }
  for (const [name, v] of Object.entries(attrs)) {
    const spec = def.attrs[name];
    if (!spec) {
      const known = Object.keys(def.attrs);
      problems.push(`unknown attribute '${name}' for ${def.kind}${known.length ? ` (known: ${known.join(', ')})` : ' (it takes none)'}`);
      continue;
    }
    if (!attrHasKind(v, spec.kind)) problems.push(`attribute '${name}' must be ${spec.kind}, got ${JSON.stringify(v)}`);
  }
  return problems;
}

function attrHasKind(v: Attr, kind: AttrKind): boolean {
  switch (kind) {
    case 'int': return typeof v === 'number' && Number.isSafeInteger(v);
    case 'float': return typeof v === 'number' && Number.isFinite(v);
    case 'string': return typeof v === 'string';
    case 'bool': return typeof v === 'boolean';
    case 'ints': return Array.isArray(v) && v.every((x) => typeof x === 'number' && Number.isSafeInteger(x));
    case 'floats': return Array.isArray(v) && v.every((x) => typeof x === 'number' && Number.isFinite(x));
  }
}

// Typed attribute accessors for op implementations (attributes are verified first).
export function intAttr(attrs: Attrs, name: string, dflt?: number): number {
  const v = attrs[name];
  if (v === undefined && dflt !== undefined) return dflt;
  if (typeof v !== 'number') typeError(`attribute '${name}' must be a number`);
  return v;
}
export function floatAttr(attrs: Attrs, name: string, dflt?: number): number {
  return intAttr(attrs, name, dflt);
}
export function intsAttr(attrs: Attrs, name: string): number[] {
  const v = attrs[name];
  if (!Array.isArray(v)) typeError(`attribute '${name}' must be a list of ints`);
  return v as number[];
}

/** Default cost: every input and output moved once, `flopsPerOut` per output element. */
export function streamingCost(inputs: readonly TensorType[], outputs: readonly TensorType[], flops: number): Cost {
  let bytes = 0;
  for (const t of [...inputs, ...outputs]) bytes += numel(t.shape) * dtypeBytes(t.dtype);
  return { bytes, flops };
}
