// checkPass: fuzz a pass for correctness, as the project's own property tests do. It
// runs the pass on many generated graphs with inputs (arbGraphWithInputs by default),
// and for each one checks that the pass neither threw nor wrote into its input, that
// the result verifies, keeps the interface (input and output names' dtypes and shapes),
// and computes the same outputs under the interpreter. The first failure is shrunk by
// fast-check to the smallest failing graph and reported with its IR text, data, seed
// and path (seed + path replay it exactly).
//
// A graph may keep an interface value in permuted row order if the value's type says so
// (a `perm` annotation, as reorder-weights does for recurrent state): inputs are fed and
// outputs compared through that annotation.
import fc from 'fast-check';
import { SsmcError } from '../errors.ts';
import type { Graph } from '../ir/graph.ts';
import { makeGraph, walkNodes } from '../ir/graph.ts';
import { Interpreter } from '../ir/interpreter.ts';
import type { Tensor } from '../ir/tensor.ts';
import { printGraph } from '../ir/text/index.ts';
import type { TensorType } from '../ir/types.ts';
import { formatTypeBrief, sameValueType } from '../ir/types.ts';
import { formatDiagnostic, verify } from '../ir/verifier.ts';
import type { WeightArray } from '../ir/weights.ts';
import { WeightStore } from '../ir/weights.ts';
import { dce, getPass, runPass } from '../passes/index.ts';
import type { OptionSpecs, PassDef, PipelineValue } from '../passes/pass.ts';
import { outputTypes, relayout } from '../passes/reorder/interface-layout.ts';
import type { GraphWithInputs } from './arbitraries.ts';
import { arbGraphWithInputs } from './arbitraries.ts';

export interface Tolerance {
  /** Relative to the larger magnitude of the two values (default 0). */
  readonly rel?: number;
  /** Absolute (default 0). With both 0, values must be equal (NaN matches NaN). */
  readonly abs?: number;
}

export interface CheckPassOptions {
  /** Generated cases (default 100). */
  readonly runs?: number;
  /** fast-check seed (default: a random one, reported in the result). */
  readonly seed?: number;
  /** fast-check path of a counter-example to replay (with its seed). */
  readonly path?: string;
  /** Options of the pass, as in a pipeline string. */
  readonly options?: Readonly<Record<string, PipelineValue>>;
  /** Services the pass needs (see PassContext.service). */
  readonly services?: Readonly<Record<string, unknown>>;
  /** Allowed difference between outputs before and after (default: equal). */
  readonly tolerance?: Tolerance;
  /** The graphs and inputs to try (default: arbGraphWithInputs()). */
  readonly graphs?: fc.Arbitrary<GraphWithInputs>;
}

export type FailureKind = 'threw' | 'mutated-input' | 'invalid-ir' | 'interface' | 'mismatch';

export interface CounterExample {
  readonly kind: FailureKind;
  /** What went wrong, in one paragraph. */
  readonly message: string;
  /** IR text of the smallest failing graph (the pass's input). */
  readonly ir: string;
  /** IR text of what the pass made of it, when it made a graph. */
  readonly irAfter?: string;
  /** Graph inputs of the case. */
  readonly inputs: Readonly<Record<string, number[]>>;
  /** Weight data of the failing graph as stored (f16/bf16 as raw 16-bit patterns). */
  readonly weights: Readonly<Record<string, number[]>>;
  /** Storage dtype of each weight. */
  readonly weightDtypes?: Readonly<Record<string, string>>;
  /** For a mismatch: the output that differs, and where it differs most. */
  readonly output?: string;
  readonly index?: number;
  readonly expected?: number;
  readonly actual?: number;
  readonly maxDiff?: number;
}

export interface CheckStats {
  /** Cases run before the first failure (all of them when it holds). */
  readonly cases: number;
  /** Cases where the pass returned a different graph (a check that never fires proves little). */
  readonly changed: number;
  /** Cases whose outputs were bit-for-bit equal. */
  readonly exact: number;
  /** Largest absolute and relative output differences seen in passing cases. */
  readonly maxAbs: number;
  readonly maxRel: number;
}

export interface CheckResult {
  readonly ok: boolean;
  readonly pass: string;
  readonly seed: number;
  readonly runs: number;
  readonly stats: CheckStats;
  /** fast-check path of the counter-example: replay with `{ seed, path }`. */
  readonly path?: string;
  readonly shrinks?: number;
  readonly counterexample?: CounterExample;
  /** The whole result in words (what assertPass throws). */
  readonly report: string;
}

/** Runs the checks; never throws for a failing pass (see `ok`), only for bad arguments. */
export function checkPass(pass: PassDef<OptionSpecs> | string, opts: CheckPassOptions = {}): CheckResult {
  const def = typeof pass === 'string' ? getPass(pass) : pass;
  const runs = opts.runs ?? 100;
  const seed = opts.seed ?? Math.floor(Math.random() * 0x7fffffff);
  const stats = { cases: 0, changed: 0, exact: 0, maxAbs: 0, maxRel: 0 };
  let failing = false;
  const property = fc.property(opts.graphs ?? arbGraphWithInputs(), (c) => {
    const outcome = checkCase(def, c, opts);
    fc.pre(outcome !== 'skip');
    if ('kind' in outcome) {
      failing = true;
      throw new Error(outcome.message);
    }
    // Only cases before the first failure count; shrinking re-runs variants of it.
    if (failing) return;
    stats.cases++;
    if (outcome.changed) stats.changed++;
    if (outcome.exact) stats.exact++;
    stats.maxAbs = Math.max(stats.maxAbs, outcome.maxAbs);
    stats.maxRel = Math.max(stats.maxRel, outcome.maxRel);
  });
  let details: fc.RunDetails<[GraphWithInputs]>;
  try {
    details = fc.check(property, { numRuns: runs, seed, ...(opts.path !== undefined ? { path: opts.path } : {}) });
  } catch (e) {
    // fast-check throws (rather than reports) only for parameters it cannot use.
    throw new SsmcError('E_ARG', `checkPass(${def.name}): ${e instanceof Error ? e.message : String(e)}`);
  }
  let counterexample: CounterExample | undefined;
  if (details.failed && details.counterexample) {
    const fails = (c: GraphWithInputs) => {
      const o = checkCase(def, c, opts);
      return o !== 'skip' && 'kind' in o ? o : undefined;
    };
    const c = reduceCase(details.counterexample[0], fails);
    const outcome = fails(c);
    counterexample = outcome ? describe(c, outcome) : undefined;
  }
  const base = {
    ok: !details.failed,
    pass: def.name,
    seed: details.seed,
    runs,
    stats,
    ...(details.counterexamplePath ? { path: details.counterexamplePath, shrinks: details.numShrinks } : {}),
    ...(counterexample ? { counterexample } : {}),
  };
  const noCase = details.failed && !counterexample ? `fast-check stopped without a counter-example (${details.interrupted ? 'interrupted' : 'too many skipped cases'})` : undefined;
  return { ...base, report: formatCheckResult(base, noCase) };
}

/** checkPass, throwing an Error whose message is the report when the pass fails. */
export function assertPass(pass: PassDef<OptionSpecs> | string, opts: CheckPassOptions = {}): CheckResult {
  const r = checkPass(pass, opts);
  if (!r.ok) throw new Error(r.report);
  return r;
}

// --- one case ------------------------------------------------------------------------

interface Failure {
  readonly kind: FailureKind;
  readonly message: string;
  readonly after?: Graph;
  readonly output?: string;
  readonly index?: number;
  readonly expected?: number;
  readonly actual?: number;
  readonly maxDiff?: number;
}

interface Success {
  readonly changed: boolean;
  readonly exact: boolean;
  readonly maxAbs: number;
  readonly maxRel: number;
}

/** 'skip' when the original graph itself cannot be evaluated on these inputs. */
function checkCase(def: PassDef<OptionSpecs>, c: GraphWithInputs, opts: CheckPassOptions): Failure | Success | 'skip' {
  const { inputs } = c;
  let before: Record<string, Tensor>;
  try {
    before = new Interpreter(c.graph).run(inputs);
  } catch {
    return 'skip';
  }
  // The pass gets its own copy of the weight data: a pass that writes into it must not
  // corrupt the generated case, which fast-check reuses while shrinking.
  const snapshot = c.graph.weightData;
  const graph = makeGraph({ ...c.graph, weightData: new WeightStore([...snapshot.entries()].map(([n, a]) => [n, a.slice()])) });
  let after: Graph;
  try {
    after = runPass(def, graph, opts.options, { services: opts.services });
  } catch (e) {
    return { kind: 'threw', message: `the pass threw: ${errorText(e)}` };
  }
  for (const [name, a] of snapshot.entries()) {
    const now = graph.weightData.tryGet(name);
    if (!now || !sameBits(a, now)) return { kind: 'mutated-input', message: `the pass wrote into the data of its input's weight @${name} (weight data is immutable)` };
  }
  if (!isGraphLike(after)) return { kind: 'threw', message: `the pass returned ${after === null ? 'null' : typeof after} instead of a graph` };
  try {
    const diags = verify(after);
    if (diags.length) return { kind: 'invalid-ir', after, message: `the pass produced an invalid graph:\n${diags.map((d) => formatDiagnostic(d)).join('\n')}` };
  } catch (e) {
    return { kind: 'invalid-ir', after, message: `the graph after the pass could not be verified: ${errorText(e)}` };
  }
  const iface = interfaceProblem(graph, after);
  if (iface) return { kind: 'interface', after, message: iface };

  const inTypes = new Map(after.inputs.map((v) => [v.name, v.type]));
  const fed: Record<string, Float32Array | Int32Array> = {};
  for (const v of graph.inputs) fed[v.name] = relayout(inputs[v.name], v.type, inTypes.get(v.name)!);
  let got: Record<string, Tensor>;
  try {
    got = new Interpreter(after).run(fed);
  } catch (e) {
    return { kind: 'threw', after, message: `the graph after the pass fails to evaluate: ${errorText(e)}` };
  }
  const tBefore = outputTypes(graph);
  const tAfter = outputTypes(after);
  const tol = opts.tolerance ?? {};
  let maxAbs = 0;
  let maxRel = 0;
  let exact = true;
  for (let k = 0; k < graph.outputs.length; k++) {
    const [nb, na] = [graph.outputs[k], after.outputs[k]];
    const want = before[nb].data;
    const have = relayout(got[na].data, tAfter.get(na)!, tBefore.get(nb)!);
    let worst = -1;
    let worstD = -1;
    for (let i = 0; i < want.length; i++) {
      const [a, b] = [want[i], have[i]];
      if (!Object.is(a, b)) exact = false;
      if (a === b || (Number.isNaN(a) && Number.isNaN(b))) continue;
      // Infinities and NaN must match exactly; a tolerance only covers finite values.
      const d = Number.isFinite(a) && Number.isFinite(b) ? Math.abs(a - b) : Infinity;
      const rel = d / Math.max(Math.abs(a), Math.abs(b));
      if (!(d <= (tol.abs ?? 0) + (tol.rel ?? 0) * Math.max(Math.abs(a), Math.abs(b)))) {
        if (!(d <= worstD)) [worst, worstD] = [i, d];
      } else {
        maxAbs = Math.max(maxAbs, d);
        maxRel = Math.max(maxRel, rel);
      }
    }
    if (worst >= 0) {
      const what = nb === na ? `%${nb}` : `%${nb} (now %${na})`;
      return {
        kind: 'mismatch',
        after,
        output: nb,
        index: worst,
        expected: want[worst],
        actual: have[worst],
        maxDiff: worstD,
        message: `output ${k} ${what} differs at element ${worst}: expected ${want[worst]}, got ${have[worst]} (|diff| ${worstD})`,
      };
    }
  }
  return { changed: after !== graph, exact, maxAbs, maxRel };
}

function interfaceProblem(a: Graph, b: Graph): string | undefined {
  const sig = (vs: readonly { name: string; type: TensorType }[]) => vs.map((v) => `%${v.name} : ${formatTypeBrief(v.type)}`).join(', ');
  const bIn = new Map(b.inputs.map((v) => [v.name, v.type]));
  if (a.inputs.length !== b.inputs.length || a.inputs.some((v) => !bIn.has(v.name) || !sameValueType(v.type, bIn.get(v.name)!))) {
    return `the pass changed the graph's inputs from (${sig(a.inputs)}) to (${sig(b.inputs)})`;
  }
  const [ta, tb] = [outputTypes(a), outputTypes(b)];
  const outs = (g: Graph, t: Map<string, TensorType>) => g.outputs.map((n) => `%${n} : ${formatTypeBrief(t.get(n)!)}`).join(', ');
  if (a.outputs.length !== b.outputs.length || a.outputs.some((n, i) => !sameValueType(ta.get(n)!, tb.get(b.outputs[i])!))) {
    return `the pass changed the graph's outputs from (${outs(a, ta)}) to (${outs(b, tb)})`;
  }
  return undefined;
}

// --- reducing ---------------------------------------------------------------------------

/**
 * fast-check shrinks the plan a graph was drawn from, which cannot drop what the plan
 * always adds (every state output is returned). This finishes the job on the graph
 * itself: drop one output at a time, with the nodes, weights and inputs only it needed,
 * as long as the case still fails.
 */
function reduceCase(c: GraphWithInputs, fails: (c: GraphWithInputs) => Failure | undefined): GraphWithInputs {
  let best = c;
  for (let i = 0; i < best.graph.outputs.length && best.graph.outputs.length > 1; ) {
    const smaller = withoutOutput(best, i);
    if (smaller && fails(smaller)) best = smaller;
    else i++;
  }
  return best;
}

function withoutOutput(c: GraphWithInputs, i: number): GraphWithInputs | undefined {
  try {
    const outputs = c.graph.outputs.filter((_, k) => k !== i);
    const pruned = runPass(dce, makeGraph({ ...c.graph, outputs }));
    const used = new Set([...walkNodes(pruned)].flatMap((n) => n.inputs));
    for (const o of outputs) used.add(o);
    const graph = makeGraph({ ...pruned, inputs: pruned.inputs.filter((v) => used.has(v.name)) });
    if (verify(graph).length) return undefined;
    const inputs = Object.fromEntries(graph.inputs.map((v) => [v.name, c.inputs[v.name]]));
    return { graph, inputs };
  } catch {
    return undefined;
  }
}

// --- reporting -------------------------------------------------------------------------

function describe(c: GraphWithInputs, f: Failure): CounterExample {
  const weights: Record<string, number[]> = {};
  for (const [name, a] of c.graph.weightData.entries()) weights[name] = Array.from(a);
  const inputs: Record<string, number[]> = {};
  for (const [name, a] of Object.entries(c.inputs)) inputs[name] = Array.from(a);
  let irAfter: string | undefined;
  try {
    irAfter = f.after ? printGraph(f.after) : undefined;
  } catch {
    irAfter = undefined;
  }
  const { after: _after, ...rest } = f;
  const weightDtypes = Object.fromEntries(c.graph.weights.map((w) => [w.name, w.type.dtype]));
  return { ...rest, ir: printGraph(c.graph), ...(irAfter !== undefined ? { irAfter } : {}), inputs, weights, weightDtypes };
}

/** The report as text: one line when the pass holds, the counter-example otherwise. */
export function formatCheckResult(r: Omit<CheckResult, 'report'>, note?: string): string {
  const s = r.stats;
  const measured = `${s.cases} cases, ${s.changed} changed by the pass, ${s.exact} bit-exact, max |diff| ${num(s.maxAbs)}, max rel ${num(s.maxRel)}`;
  if (r.ok) {
    const vacuous = s.changed === 0 ? `\n  note: the pass changed none of the ${s.cases} graphs; pass \`graphs\` that contain what it rewrites` : '';
    return `PASS ${r.pass}: ${measured} (seed ${r.seed})${vacuous}\n`;
  }
  const lines = [`FAIL ${r.pass}: counter-example after ${s.cases + 1} cases (seed ${r.seed}${r.shrinks !== undefined ? `, shrunk ${r.shrinks} times` : ''})`];
  if (note) lines.push(`  ${note}`);
  const ce = r.counterexample;
  if (ce) {
    lines.push(`  [${ce.kind}] ${ce.message.replace(/\n/g, '\n  ')}`);
    lines.push('  smallest failing graph:', indent(ce.ir));
    const data = [...Object.entries(ce.inputs).map(([n, v]) => `%${n} = ${list(v)}`), ...Object.entries(ce.weights).map(([n, v]) => `@${n}${ce.weightDtypes?.[n] && ce.weightDtypes[n] !== 'f32' ? ` (${ce.weightDtypes[n]} bits)` : ''} = ${list(v)}`)];
    if (data.length) lines.push('  data:', ...data.map((d) => `    ${d}`));
    if (ce.irAfter !== undefined) lines.push('  after the pass:', indent(ce.irAfter));
    if (r.path) lines.push(`  replay: checkPass(pass, { seed: ${r.seed}, path: '${r.path}' })`, `      or: ssmc check-pass FILE --seed ${r.seed} --path ${r.path}`);
  }
  return `${lines.join('\n')}\n`;
}

function indent(text: string): string {
  return text.replace(/\n$/, '').split('\n').map((l) => `    ${l}`).join('\n');
}

function list(v: readonly number[]): string {
  const shown = v.slice(0, 16).map((x) => (Number.isInteger(x) ? String(x) : x.toPrecision(6)));
  return `[${shown.join(', ')}${v.length > 16 ? `, ... (${v.length} values)` : ''}]`;
}

// --- small helpers ----------------------------------------------------------------------

function num(x: number): string {
  return x === 0 ? '0' : x.toExponential(2);
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function isGraphLike(g: unknown): g is Graph {
  if (typeof g !== 'object' || g === null) return false;
  const r = g as Record<string, unknown>;
  return Array.isArray(r.nodes) && Array.isArray(r.inputs) && Array.isArray(r.outputs) && Array.isArray(r.weights) && typeof r.weightData === 'object';
}

function sameBits(x: WeightArray, y: WeightArray): boolean {
  if (x.constructor !== y.constructor || x.length !== y.length) return false;
  return x.every((v, i) => Object.is(v, y[i]));
}
