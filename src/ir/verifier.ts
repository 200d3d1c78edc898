// The verifier: every rule a graph must satisfy, reported as located diagnostics.
// Regions are closed: a body sees its parameters and the graph's weights only.
import { SsmcError } from '../errors.ts';
import type { Graph, Node, Region, Value } from './graph.ts';
import { nodeLabel } from './graph.ts';
import { checkAttrs, findOp, inputArity, OpTypeError } from './op-registry.ts';
import type { TensorType } from './types.ts';
import { DTYPES, MEMORY_KINDS, formatTypeBrief, sameValueType } from './types.ts';
import { checkWeightData } from './weights.ts';

export interface SourcePos {
  readonly line: number;
  readonly column: number;
}

/** Source positions of parsed nodes and values (keyed by object identity). */
export type SourceSpans = ReadonlyMap<object, SourcePos>;

export interface Diagnostic {
  readonly message: string;
  /** Label of the node concerned (`%out = op.kind`), if any. */
  readonly node?: string;
  readonly line?: number;
  readonly column?: number;
}

const NAME = /^[A-Za-z0-9_][A-Za-z0-9_.]*$/;

export interface VerifyOptions {
  /** Positions of parsed objects, to locate diagnostics. */
  readonly spans?: SourceSpans;
  /** Check that every weight has data of the right size (default true). */
  readonly requireWeightData?: boolean;
  /** File name used in messages. */
  readonly file?: string;
}

export function verify(graph: Graph, opts: VerifyOptions = {}): Diagnostic[] {
  const { spans, requireWeightData = true } = opts;
  const diags: Diagnostic[] = [];
  const at = (obj: object | undefined, message: string, node?: Node) => {
    const pos = obj ? spans?.get(obj) : undefined;
    diags.push({ message, node: node ? nodeLabel(node) : undefined, line: pos?.line, column: pos?.column });
  };

  const weightTypes = new Map<string, TensorType>();
  const allNames = new Set<string>();
  const declare = (v: Value, scope: Map<string, TensorType>, owner?: Node, sigil = '%') => {
    const label = `${sigil}${v.name}`;
    if (!NAME.test(v.name)) at(owner ?? v, `invalid name '${label}'`, owner);
    if (allNames.has(v.name)) at(owner ?? v, `${label} is defined more than once`, owner);
    allNames.add(v.name);
    for (const m of checkType(v.type, label)) at(owner ?? v, m, owner);
    scope.set(v.name, v.type);
  };

  if (!NAME.test(graph.name)) at(graph, `invalid graph name '@${graph.name}'`);
  for (const w of graph.weights) {
    declare(w, weightTypes, undefined, '@');
    const data = graph.weightData.tryGet(w.name);
    if (!data) {
      if (requireWeightData) at(w, `weight @${w.name} has no data`);
    }
    else {
      const m = checkWeightData(w.name, w.type, data);
      if (m) at(w, m);
    }
  }
  const later = new Set<string>();
  collectOutputs(graph, later);

  const verifyRegion = (region: Region, params: readonly Value[]) => {
    const scope = new Map(weightTypes);
    for (const p of params) declare(p, scope);
    for (const node of region.nodes) {
      const def = findOp(node.op);
      const inTypes: TensorType[] = [];
      let inputsOk = true;
      for (const name of node.inputs) {
        const t = scope.get(name);
        if (t) inTypes.push(t);
        else {
          inputsOk = false;
          at(node, later.has(name) ? `uses %${name} before it is defined (a cycle, or nodes out of topological order)` : `uses undefined value %${name}`, node);
        }
      }
      if (!def) at(node, `unknown op '${node.op}'`, node);
      else {
        const { min, max } = inputArity(def);
        if (node.inputs.length < min || node.inputs.length > max) {
          inputsOk = false;
          at(node, `${node.op} takes ${min === max ? min : `${min}..${max}`} inputs (${def.inputs.join(', ')}), got ${node.inputs.length}`, node);
        }
        for (const m of checkAttrs(def, node.attrs)) at(node, m, node);
        if (!!def.hasBody !== !!node.body) at(node, def.hasBody ? `${node.op} needs a body` : `${node.op} takes no body`, node);
        if (node.body) verifyRegion(node.body, node.body.inputs);
        if (inputsOk) {
          try {
            const inferred = def.infer(inTypes, node.attrs, node.body);
            if (inferred.length !== node.outputs.length) at(node, `${node.op} produces ${inferred.length} outputs, node declares ${node.outputs.length}`, node);
            else
              inferred.forEach((t, i) => {
                const v = node.outputs[i];
                if (!sameValueType(t, v.type)) at(node, `output %${v.name} is declared ${formatTypeBrief(v.type)}, ${node.op} gives ${formatTypeBrief(t)}`, node);
              });
          } catch (e) {
            if (!(e instanceof OpTypeError)) throw e;
            at(node, `${node.op}: ${e.message}`, node);
          }
        }
      }
      // Ops are pure: a node without results could only be dead, and could not be named.
      if (node.outputs.length === 0) at(node, `${node.op} node defines no values`, node);
      for (const v of node.outputs) declare(v, scope, node);
    }
    const yielded = new Set<string>();
    region.outputs.forEach((name) => {
      if (!scope.has(name)) at(region, `output %${name} is not defined`);
      // Results are returned by name: a repeated output would shadow itself.
      if (yielded.has(name)) at(region, `output %${name} is listed more than once`);
      yielded.add(name);
    });
  };

  for (const i of graph.inputs) if (weightTypes.has(i.name)) at(i, `input %${i.name} has the name of a weight`);
  verifyRegion(graph, graph.inputs);
  return diags;
}

function collectOutputs(region: Region, into: Set<string>): void {
  for (const n of region.nodes) {
    for (const v of n.outputs) into.add(v.name);
    if (n.body) {
      for (const p of n.body.inputs) into.add(p.name);
      collectOutputs(n.body, into);
    }
  }
}

/** Rules for a type on its own: valid dtype, dims, annotations consistent with it. `label` is `%x` or `@w`. */
export function checkType(t: TensorType, label: string): string[] {
  const out: string[] = [];
  if (!DTYPES.includes(t.dtype)) out.push(`${label}: unknown dtype '${t.dtype}'`);
  if (!t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) out.push(`${label}: dimensions must be non-negative integers, got [${t.shape}]`);
  if (t.memory !== undefined && !MEMORY_KINDS.includes(t.memory)) out.push(`${label}: unknown memory kind '${t.memory}'`);
  const rows = t.shape[0];
  if (t.cn4 !== undefined) {
    if (t.shape.length !== 2) out.push(`${label}: cn4 sparsity needs a 2-D tensor, got [${t.shape}]`);
    else if (t.cn4.length !== rows) out.push(`${label}: cn4 lists ${t.cn4.length} rows, tensor has ${rows}`);
    if (!t.cn4.every((n) => Number.isInteger(n) && n >= 0 && n <= 4)) out.push(`${label}: cn4 entries must be 0..4`);
  }
  if (t.perm !== undefined) {
    if (t.shape.length < 1 || t.perm.length !== rows) out.push(`${label}: perm lists ${t.perm.length} rows, tensor has ${rows ?? 0}`);
    else {
      const seen = new Uint8Array(rows);
      for (const p of t.perm) {
        if (!Number.isInteger(p) || p < 0 || p >= rows || seen[p]) {
          out.push(`${label}: perm is not a permutation of 0..${rows - 1}`);
          break;
        }
        seen[p] = 1;
      }
    }
  }
  return out;
}

export function formatDiagnostic(d: Diagnostic, file?: string): string {
  const where = d.line !== undefined ? `${file ?? '<ir>'}:${d.line}:${d.column ?? 1}: ` : file ? `${file}: ` : '';
  return `${where}${d.node ? `${d.node}: ` : ''}${d.message}`;
}

/** Throws E_VERIFY listing every diagnostic; located at the first one. */
export function assertValid(graph: Graph, opts: VerifyOptions = {}): void {
  const file = opts.file;
  const diags = verify(graph, opts);
  if (diags.length === 0) return;
  const first = diags[0];
  const message = diags.map((d) => formatDiagnostic(d, file)).join('\n');
  throw new SsmcError('E_VERIFY', `graph @${graph.name} is invalid:\n${message}`, { file, line: first.line, column: first.column, what: first.node });
}
