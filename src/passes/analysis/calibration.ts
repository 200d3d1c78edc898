// Calibration analysis: run the model on calibration tokens and collect, for the input
// X of a linear layer, H = XᵀX (f64) and the per-feature input norms ‖X_j‖.
//
// Layers are visited in graph order and each one's statistics come from the model as it
// is *now* (earlier layers already pruned, SparseGPT's order). To avoid re-running the
// whole model per layer, the calibrator caches a few "anchor" values over all tokens:
// dominators (in the value graph rooted at the tokens) of the remaining layer inputs.
// The top anchor dominates every remaining layer input and the logits (in a residual
// network: the residual stream entering the current block); deeper ones dominate the
// next few layer inputs (inside a Mamba block: the in_proj output xz, then x). Each
// statistic is gathered by running only the slice from the cached anchors to the
// layer's input. After a layer is pruned, anchors downstream of it are dropped and the
// anchors the remaining layers need are computed from the ones still cached. Memory:
// a handful of tokens × width f32 anchors (not growing with depth) plus one K×K Hessian
// at a time, whatever the model size.
//
// Windows start from a zero state, like evaluation: a prefill graph (token input [L])
// runs windows of exactly L tokens (a trailing partial window is dropped). A decode
// graph (scalar token) is lifted to a sequence graph of `window` tokens (default 512,
// or all tokens when fewer) and runs the same way; only when it cannot be lifted (or
// `stepwise` is asked for) does it step token by token, carrying every state input S
// from the output `S.next` and resetting the state every `window` tokens.
//
// The runner is pluggable: the `calibration` service may carry `compile`, turning a
// sliced graph into something faster than the interpreter (e.g. the C backend).
import { SsmcError } from '../../errors.ts';
import type { Graph, Value } from '../../ir/graph.ts';
import { Interpreter } from '../../ir/interpreter.ts';
import { liftToSequence } from '../../ir/sequence.ts';
import { numel } from '../../ir/types.ts';
import type { WeightStore } from '../../ir/weights.ts';
import { symmetrize, syrkUpperT } from '../sparsity/linalg.ts';
import type { DominatorTree } from './graph-slice.ts';
import { dominatorTree, lcaAll, sliceGraph, tokenInput, valueTable } from './graph-slice.ts';

export type Array32 = Float32Array | Int32Array;

/** What `runWindows` reduces the windows' values of `name` to. */
export type WindowRequest =
  | { readonly kind: 'values'; readonly name: string; readonly gram?: boolean }
  | { readonly kind: 'anchors'; readonly name: string; readonly names: readonly string[] }
  | { readonly kind: 'gram'; readonly name: string }
  | { readonly kind: 'nll'; readonly name: string; readonly tokens: Int32Array; readonly window: number }
  | { readonly kind: 'kl'; readonly name: string; readonly ref: Float32Array; readonly window: number }
  | { readonly kind: 'logprobs'; readonly name: string; readonly window: number };

/**
 * values: runs × numel, run order (with `stats` too when `values` asks for `gram`);
 * stats: the windows' H as `collect` accumulates it; sum/count: the
 * summed next-token NLL or KL (nats) over the positions of every window (L - 1 each,
 * targets from `tokens`, positions in run order as in `logProbs`); logprobs: positions × V.
 */
export interface WindowResult {
  readonly values?: Float32Array;
  /** `anchors`: the values of each name (runs × numel), computed in one pass. */
  readonly anchors?: Readonly<Record<string, Float32Array>>;
  readonly stats?: LayerStats;
  readonly sum?: number;
  readonly count?: number;
  readonly logprobs?: Float32Array;
}

/** A graph prepared for repeated runs. Outputs by name; must not write its inputs. */
export interface CompiledGraph {
  run(inputs: Readonly<Record<string, Array32>>): Record<string, Array32>;
  /**
   * Optional fast path for prefill slices: `runs` windows, each from a zero state (graph
   * inputs not in `inputs` are zero), `inputs` holding at least `runs` runs back to back,
   * reduced as `request` says. A native runner computes H or the loss where the
   * activations are, instead of returning them.
   */
  runWindows?(inputs: Readonly<Record<string, Array32>>, runs: number, request: WindowRequest): WindowResult;
}

/** The `calibration` service a caller passes to passes that need calibration data. */
export interface CalibrationService {
  readonly tokens: Int32Array;
  /** Window for decode graphs (default 512); prefill graphs use their sequence length. */
  readonly window?: number;
  /** Compiles a (sliced) graph for repeated runs; default: the interpreter. */
  readonly compile?: (graph: Graph) => CompiledGraph;
  /** Run a decode graph token by token instead of lifting it to windows (slower; for checks). */
  readonly stepwise?: boolean;
}

export const CALIBRATION_SERVICE = 'calibration';
/** Fewest calibration tokens accepted for a decode graph. */
export const MIN_DECODE_TOKENS = 16;

export function interpreterCompile(graph: Graph): CompiledGraph {
  const interp = new Interpreter(graph);
  return {
    run(inputs) {
      const out = interp.run(inputs);
      const r: Record<string, Array32> = {};
      for (const k of Object.keys(out)) r[k] = out[k].data as Array32;
      return r;
    },
  };
}

/** Statistics of one layer input over the calibration tokens. */
export interface LayerStats {
  readonly K: number;
  /** XᵀX, K×K, symmetric, f64. */
  readonly H: Float64Array;
  /** sqrt(Σ_t x_tj²) per input feature (Wanda's norms). */
  readonly norms: Float64Array;
  /** Number of token rows accumulated. */
  readonly rows: number;
}

/** One layer to calibrate: the name of its input value (and of its weight, to find it). */
export interface CalibrationTarget {
  readonly input: string;
  readonly weight?: string;
}

/** The graph, anchors and windows that `loss`, `logProbs` and `kl` run over. */
interface View {
  readonly graph: Graph;
  readonly cache: ReadonlyMap<string, Array32>;
  readonly window: number;
  readonly runs: number;
  /** Values per run of a cached anchor. */
  readonly perRunOf: (data: Array32) => number;
}

/** Tokens per rank-k update of H (features × BLOCK transposed buffer). */
const BLOCK = 64;

export class Calibrator {
  readonly graph: Graph;
  readonly mode: 'decode' | 'prefill';
  /** Tokens per window. */
  readonly window: number;
  /** Interpreter runs: windows (prefill) or tokens (decode). */
  readonly runs: number;
  /** Tokens actually used (prefill drops a trailing partial window). */
  readonly tokens: Int32Array;
  readonly #targets: readonly CalibrationTarget[];
  readonly #logits: string;
  readonly #token: Value;
  readonly #dom: DominatorTree;
  readonly #values: Map<string, Value>;
  readonly #stateNext = new Map<string, string>();
  readonly #compile: (g: Graph) => CompiledGraph;
  readonly #zeros = new Map<string, Float32Array>();
  /** Cached anchors by name, per-run layout (run r at [r·perRun, (r+1)·perRun)). */
  #cache = new Map<string, Array32>();
  #next = 0;
  /** The decode graph this one was lifted from (to lift shorter windows for `loss`). */
  readonly #source?: Graph;
  readonly #shortGraphs = new Map<number, Graph>();

  constructor(graph: Graph, service: CalibrationService, targets: readonly CalibrationTarget[], logits = 'logits') {
    const toks = service.tokens;
    if (!(toks instanceof Int32Array)) throw new SsmcError('E_PASS', `the calibration service's tokens must be an Int32Array`);
    let token = tokenInput(graph);
    if (token.type.shape.length === 0 && !service.stepwise && toks.length >= MIN_DECODE_TOKENS) {
      // A decode graph is lifted to a window-long sequence graph (same value and weight
      // names), which runs a window per interpreter call instead of a token.
      try {
        const source = graph;
        graph = liftToSequence(graph, Math.min(service.window ?? 512, toks.length));
        token = tokenInput(graph);
        this.#source = source;
      } catch (e) {
        if (!(e instanceof SsmcError)) throw e;
        // Some op has no sequence form: step token by token instead.
      }
    }
    this.graph = graph;
    this.#targets = targets;
    this.#token = token;
    this.mode = this.#token.type.shape.length === 0 ? 'decode' : 'prefill';
    this.#compile = service.compile ?? interpreterCompile;
    if (!graph.outputs.includes(logits)) throw new SsmcError('E_PASS', `calibration needs the graph output %${logits} (to measure the calibration loss)`);
    this.#logits = logits;
    const outs = new Set(graph.outputs);
    for (const v of graph.inputs) {
      if (v === this.#token) continue;
      if (!outs.has(`${v.name}.next`)) {
        throw new SsmcError('E_PASS', `cannot calibrate @${graph.name}: input %${v.name} is neither the token input nor a state with a %${v.name}.next output`);
      }
      this.#stateNext.set(v.name, `${v.name}.next`);
    }
    if (this.mode === 'prefill') {
      const L = this.#token.type.shape[0];
      this.window = L;
      this.runs = Math.floor(toks.length / L);
      if (this.runs < 1) {
        throw new SsmcError('E_PASS', `calibration is too short: ${toks.length} tokens, this prefill graph needs at least one window of ${L}`);
      }
      this.tokens = toks.subarray(0, this.runs * L);
    } else {
      const W = service.window ?? 512;
      if (!Number.isSafeInteger(W) || W < 2) throw new SsmcError('E_PASS', `calibration window must be an integer >= 2, got ${W}`);
      if (toks.length < MIN_DECODE_TOKENS) throw new SsmcError('E_PASS', `calibration is too short: ${toks.length} tokens, need at least ${MIN_DECODE_TOKENS}`);
      this.window = W;
      this.runs = toks.length;
      this.tokens = toks;
    }
    const vocab = this.#vocabLimit();
    for (let i = 0; i < this.tokens.length; i++) {
      const t = this.tokens[i];
      if (!(t >= 0 && t < vocab)) throw new SsmcError('E_PASS', `calibration token ${t} at position ${i} is outside the vocabulary [0, ${vocab})`);
    }
    this.#dom = dominatorTree(graph, this.#token.name);
    this.#values = valueTable(graph);
    for (const t of targets) {
      if (!this.#dom.idom.has(t.input)) throw new SsmcError('E_PASS', `layer input %${t.input} does not depend on the tokens; it cannot be calibrated`);
    }
    this.reset();
  }

  /** Back to the start: only the tokens are cached. */
  reset(): void {
    this.#cache = new Map([[this.#token.name, this.tokens]]);
    this.#next = 0;
  }

  /** Index of the next target whose statistics `collect` gives. */
  get position(): number {
    return this.#next;
  }

  /** Statistics of target `#position`'s input, computed with `weights`. */
  collect(weights: WeightStore): LayerStats {
    const target = this.#current();
    const fast = this.#windows(weights, this.runs, { kind: 'gram', name: target.input });
    if (fast?.stats) return fast.stats;
    const K = this.#width(target);
    const acc = new GramAccumulator(K);
    this.#sweep(weights, [target.input], (_r, outs) => acc.add(outs[target.input]));
    return acc.finish();
  }

  /**
   * The input X of target `#position` itself (tokens × K, f32, in run order), computed
   * with `weights`; `statsOf(X, K)` gives the same statistics as `collect`.
   */
  inputs(weights: WeightStore): Float32Array {
    const target = this.#current();
    const fast = this.#windows(weights, this.runs, { kind: 'values', name: target.input });
    if (fast?.values) return fast.values;
    const parts: Array32[] = [];
    this.#sweep(weights, [target.input], (_r, outs) => void parts.push(outs[target.input].slice()));
    return concatRows(parts);
  }

  /**
   * `collect` and `inputs` of target `#position` from one run of the slice: the same
   * statistics as `collect` (accumulated window by window) and the same X as `inputs`.
   */
  collectInputs(weights: WeightStore): { stats: LayerStats; X: Float32Array } {
    const target = this.#current();
    const fast = this.#windows(weights, this.runs, { kind: 'values', name: target.input, gram: true });
    if (fast?.values && fast.stats) return { stats: fast.stats, X: fast.values };
    const acc = new GramAccumulator(this.#width(target));
    const parts: Array32[] = [];
    this.#sweep(weights, [target.input], (_r, outs) => {
      acc.add(outs[target.input]);
      parts.push(outs[target.input].slice());
    });
    return { stats: acc.finish(), X: concatRows(parts) };
  }

  /** Input width of the current target. */
  get width(): number {
    return this.#width(this.#current());
  }

  #current(): CalibrationTarget {
    const target = this.#targets[this.#next];
    if (!target) throw new SsmcError('E_INTERNAL', 'calibrator: no target left');
    return target;
  }

  #width(target: CalibrationTarget): number {
    const v = this.#values.get(target.input)!;
    return v.type.shape[v.type.shape.length - 1];
  }

  /**
   * Moves past the current target, whose final weights `weights` must hold: drops the
   * anchors computed from its output, then computes the anchors the remaining targets
   * need (shallowest first, each from those already cached).
   */
  advance(weights: WeightStore): void {
    const done = this.#targets[this.#next];
    this.#next++;
    const stale = this.#downstreamOf(done);
    for (const k of [...this.#cache.keys()]) if (stale.has(k)) this.#cache.delete(k);
    const need = this.#anchorsNeeded();
    const missing = need.filter((n) => !this.#cache.has(n));
    // All missing anchors in one pass when the runner can (the deeper ones come from the
    // shallower ones inside it, as the loop below does one call at a time).
    const fast = missing.length > 1 ? this.#windows(weights, this.runs, { kind: 'anchors', name: missing[0], names: missing }) : undefined;
    if (fast?.anchors) for (const n of missing) this.#cache.set(n, fast.anchors[n]);
    for (const name of need) {
      if (this.#cache.has(name)) continue;
      const v = this.#values.get(name)!;
      const size = numel(v.type.shape);
      const fast = this.#windows(weights, this.runs, { kind: 'values', name });
      const data = fast?.values ?? new Float32Array(this.runs * size);
      if (!fast) this.#sweep(weights, [name], (r, outs) => data.set(outs[name], r * size));
      this.#cache.set(name, data);
    }
    // Only now drop what the remaining targets do not need (it may have fed the above).
    for (const k of [...this.#cache.keys()]) if (k !== this.#token.name && !need.includes(k)) this.#cache.delete(k);
  }

  /**
   * The anchors for the remaining targets: the LCAs in the dominator tree of growing
   * prefixes of their inputs (the first prefix is the next input itself), and of all of
   * them with the logits; shallowest first.
   */
  #anchorsNeeded(): string[] {
    const rest = this.#targets.slice(this.#next).map((t) => t.input);
    const top = lcaAll(this.#dom, [...rest, this.#logits]);
    const out = new Set<string>([top]);
    for (let k = 1; k <= rest.length; k++) {
      const a = lcaAll(this.#dom, rest.slice(0, k));
      if (a === top) break;
      out.add(a);
    }
    out.delete(this.#token.name);
    return [...out].sort((a, b) => this.#dom.depth.get(a)! - this.#dom.depth.get(b)!);
  }

  /** Values computed (at top level) from the output of a target's linear layer. */
  #downstreamOf(t: CalibrationTarget): Set<string> {
    const target = this.graph.nodes.findIndex((n) => n.op === 'nn.linear' && (t.weight !== undefined ? n.inputs[1] === t.weight : n.inputs[0] === t.input));
    const reach = new Set<string>();
    if (target < 0) return reach;
    for (const o of this.graph.nodes[target].outputs) reach.add(o.name);
    for (let i = target + 1; i < this.graph.nodes.length; i++) {
      const n = this.graph.nodes[i];
      if (n.inputs.some((x) => reach.has(x))) for (const o of n.outputs) reach.add(o.name);
    }
    return reach;
  }

  /**
   * Mean next-token NLL (nats) over the first `maxTokens` calibration tokens (whole
   * windows), run from the current anchor with `weights`.
   */
  loss(weights: WeightStore, maxTokens = Infinity): number {
    const view = this.#positionView(maxTokens);
    const fast = this.#windows(weights, view.runs, { kind: 'nll', name: this.#logits, tokens: this.tokens, window: view.window }, view);
    if (fast?.count !== undefined) return fast.count ? fast.sum! / fast.count : 0;
    let sum = 0;
    let count = 0;
    this.#positions(weights, view, (lg, off, V, target) => {
      sum += nll(lg, off, V, target);
      count++;
    });
    return count ? sum / count : 0;
  }

  /**
   * Next-token log-probabilities (positions × V, f32) over the same positions as `loss`:
   * the reference for `kl`.
   */
  logProbs(weights: WeightStore, maxTokens = Infinity): Float32Array {
    const view = this.#positionView(maxTokens);
    const fast = this.#windows(weights, view.runs, { kind: 'logprobs', name: this.#logits, window: view.window }, view);
    if (fast?.logprobs) return fast.logprobs;
    const rows: Float32Array[] = [];
    this.#positions(weights, view, (lg, off, V) => rows.push(logSoftmax(lg, off, V)));
    const V = rows.length ? rows[0].length : 0;
    const out = new Float32Array(rows.length * V);
    rows.forEach((r, i) => out.set(r, i * V));
    return out;
  }

  /**
   * Mean KL(ref ‖ model) (nats/token) over the positions of `loss`, with `ref` from
   * `logProbs`: the expected calibration-loss rise of `weights` relative to the model
   * that gave `ref`, always ≥ 0 and without the sampling noise of a difference of two
   * losses (the rise of a nearly harmless change is mostly noise; its KL is not).
   */
  kl(weights: WeightStore, ref: Float32Array, maxTokens = Infinity): number {
    const view = this.#positionView(maxTokens);
    const fast = this.#windows(weights, view.runs, { kind: 'kl', name: this.#logits, ref, window: view.window }, view);
    if (fast?.count !== undefined) return fast.count ? fast.sum! / fast.count : 0;
    let sum = 0;
    let count = 0;
    this.#positions(weights, view, (lg, off, V) => {
      const q = logSoftmax(lg, off, V);
      const o = count * V;
      if (o + V > ref.length) throw new SsmcError('E_INTERNAL', 'calibrator: KL reference has fewer positions than the model run');
      let k = 0;
      for (let j = 0; j < V; j++) {
        const lp = ref[o + j];
        k += Math.exp(lp) * (lp - q[j]);
      }
      sum += Math.max(0, k);
      count++;
    });
    return count ? sum / count : 0;
  }

  /**
   * What `loss`, `logProbs` and `kl` run: the windows covering the first `maxTokens`
   * tokens; when that is less than one window of a lifted decode graph, one window cut
   * to `maxTokens` (the graph lifted to that length, anchors cut to their first rows:
   * the model is causal, so these are exactly the first positions of the full window).
   */
  #positionView(maxTokens: number): View {
    const L = this.window;
    const m = Math.min(maxTokens, this.tokens.length);
    if (this.mode === 'prefill' && this.#source && m >= 2 && m < L) {
      let g = this.#shortGraphs.get(m);
      if (!g) {
        g = liftToSequence(this.#source, m);
        this.#shortGraphs.set(m, g);
      }
      const values = valueTable(g);
      const cache = new Map<string, Array32>();
      let ok = true;
      for (const [name, data] of this.#cache) {
        const v = values.get(name);
        const perRun = data.length / this.runs;
        // Only token-major anchors ([L, ...]) can be cut.
        if (!v || v.type.shape[0] !== m || perRun % L !== 0) ok = false;
        else cache.set(name, data.subarray(0, m * (perRun / L)));
      }
      if (ok) return { graph: g, cache, window: m, runs: 1, perRunOf: (d) => d.length };
    }
    const limitWindows = Math.max(1, Math.ceil(m / L));
    const runs = this.mode === 'prefill' ? Math.min(this.runs, limitWindows) : Math.min(this.runs, limitWindows * L);
    return { graph: this.graph, cache: this.#cache, window: L, runs, perRunOf: (d) => d.length / this.runs };
  }

  /** Calls `each` for every next-token position of `view`. */
  #positions(weights: WeightStore, view: View, each: (lg: Float32Array, off: number, V: number, target: number) => void): void {
    const L = view.window;
    const toks = this.tokens;
    this.#sweep(
      weights,
      [this.#logits],
      (r, outs) => {
        const lg = outs[this.#logits] as Float32Array;
        if (this.mode === 'prefill') {
          const V = lg.length / L;
          for (let i = 0; i + 1 < L; i++) each(lg, i * V, V, toks[r * L + i + 1]);
        } else if ((r + 1) % L !== 0 && r + 1 < toks.length) {
          each(lg, 0, lg.length, toks[r + 1]);
        }
      },
      view.runs,
      view,
    );
  }

  /**
   * The compiled slice's `runWindows` over the cached anchors, when the runner has one
   * (prefill mode only: every window starts from a zero state); undefined otherwise.
   */
  #windows(weights: WeightStore, runs: number, request: WindowRequest, view?: View): WindowResult | undefined {
    const graph = view?.graph ?? this.graph;
    const cache = view?.cache ?? this.#cache;
    if (this.mode !== 'prefill' || (request.kind !== 'values' && request.kind !== 'gram' && (view?.window ?? this.window) < 2)) return undefined;
    const from = [...cache.keys()];
    const exec = this.#compile({ ...sliceGraph(graph, from, request.kind === 'anchors' ? request.names : [request.name]), weightData: weights });
    if (!exec.runWindows) return undefined;
    const inputs: Record<string, Array32> = {};
    for (const name of from) inputs[name] = cache.get(name)!;
    return exec.runWindows(inputs, runs, request);
  }

  /** Runs the slice cached anchors → outputs over the first `runs` runs, windows from zero state. */
  #sweep(weights: WeightStore, outputs: readonly string[], each: (run: number, outs: Record<string, Array32>) => void, runs = this.runs, view?: View): void {
    const cache = view?.cache ?? this.#cache;
    const graph = view?.graph ?? this.graph;
    const from = [...cache.keys()];
    const cached = from.map((name) => ({ name, data: cache.get(name)!, perRun: view ? view.perRunOf(cache.get(name)!) : cache.get(name)!.length / this.runs }));
    let outs = [...outputs];
    let slice = sliceGraph(graph, from, outs);
    if (this.mode === 'decode') {
      // Carry the state of every state input the slice reads.
      for (;;) {
        const extra = slice.inputs.slice(from.length).map((v) => this.#stateNext.get(v.name)!).filter((n) => !outs.includes(n));
        if (!extra.length) break;
        outs = [...outs, ...extra];
        slice = sliceGraph(graph, from, outs);
      }
    }
    const exec = this.#compile({ ...slice, weightData: weights });
    const states = slice.inputs.slice(from.length);
    const inputs: Record<string, Array32> = {};
    const resetStates = () => {
      for (const s of states) inputs[s.name] = this.#zero(s);
    };
    resetStates();
    for (let r = 0; r < runs; r++) {
      if (this.mode === 'decode' && r % this.window === 0 && r > 0) resetStates();
      for (const a of cached) inputs[a.name] = a.data.subarray(r * a.perRun, (r + 1) * a.perRun);
      const res = exec.run(inputs);
      if (this.mode === 'decode') for (const s of states) inputs[s.name] = res[this.#stateNext.get(s.name)!];
      each(r, res);
    }
  }

  #zero(v: Value): Float32Array {
    let z = this.#zeros.get(v.name);
    if (!z) {
      z = new Float32Array(numel(v.type.shape));
      this.#zeros.set(v.name, z);
    }
    return z;
  }

  /** Largest token id + 1 the graph can embed (rows of any weight the tokens index). */
  #vocabLimit(): number {
    for (const n of this.graph.nodes) {
      if (n.op === 'nn.embedding' && n.inputs[1] === this.#token.name) {
        const w = this.graph.weights.find((x) => x.name === n.inputs[0]);
        if (w) return w.type.shape[0];
      }
    }
    return Infinity;
  }
}

/** -log softmax(logits[off..off+V])[target] in f64 with the max subtracted. */
function nll(lg: Float32Array, off: number, V: number, target: number): number {
  let max = -Infinity;
  for (let j = 0; j < V; j++) if (lg[off + j] > max) max = lg[off + j];
  let s = 0;
  for (let j = 0; j < V; j++) s += Math.exp(lg[off + j] - max);
  return Math.log(s) + max - lg[off + target];
}

/** H = XᵀX and the input norms, accumulated from blocks of token rows. */
class GramAccumulator {
  readonly #K: number;
  readonly #H: Float64Array;
  readonly #sq: Float64Array;
  readonly #xt: Float64Array;
  #fill = 0;
  #rows = 0;

  constructor(K: number) {
    this.#K = K;
    this.#H = new Float64Array(K * K);
    this.#sq = new Float64Array(K);
    this.#xt = new Float64Array(K * BLOCK);
  }

  /** Adds the token rows of `x` (n × K). */
  add(x: ArrayLike<number>): void {
    const K = this.#K;
    const n = x.length / K;
    const xt = this.#xt;
    for (let t = 0; t < n; t++) {
      const o = t * K;
      for (let j = 0; j < K; j++) {
        const val = x[o + j];
        xt[j * BLOCK + this.#fill] = val;
        this.#sq[j] += val * val;
      }
      if (++this.#fill === BLOCK) {
        syrkUpperT(this.#H, K, xt, BLOCK, this.#fill);
        this.#fill = 0;
      }
    }
    this.#rows += n;
  }

  finish(): LayerStats {
    const K = this.#K;
    if (this.#fill) syrkUpperT(this.#H, K, this.#xt, BLOCK, this.#fill);
    this.#fill = 0;
    symmetrize(this.#H, K);
    const norms = new Float64Array(K);
    for (let j = 0; j < K; j++) norms[j] = Math.sqrt(this.#sq[j]);
    return { K, H: this.#H, norms, rows: this.#rows };
  }
}

/** The statistics `Calibrator.collect` gives, from the input rows X (tokens × K). */
export function statsOf(X: ArrayLike<number>, K: number): LayerStats {
  const acc = new GramAccumulator(K);
  acc.add(X);
  return acc.finish();
}

/** log softmax(logits[off..off+V]) in f64, stored f32. */
function logSoftmax(lg: Float32Array, off: number, V: number): Float32Array {
  let max = -Infinity;
  for (let j = 0; j < V; j++) if (lg[off + j] > max) max = lg[off + j];
  let s = 0;
  for (let j = 0; j < V; j++) s += Math.exp(lg[off + j] - max);
  const lse = Math.log(s) + max;
  const out = new Float32Array(V);
  for (let j = 0; j < V; j++) out[j] = lg[off + j] - lse;
  return out;
}

/** The calibration service from a pass context's services, checked. */
export function calibrationFrom(services: Readonly<Record<string, unknown>>, pass: string, why: string): CalibrationService {
  const s = services[CALIBRATION_SERVICE] as CalibrationService | undefined;
  if (s === undefined) {
    throw new SsmcError('E_PASS', `pass '${pass}' needs calibration data for ${why}: provide the '${CALIBRATION_SERVICE}' service ({ tokens: Int32Array })`);
  }
  if (typeof s !== 'object' || !(s.tokens instanceof Int32Array)) {
    throw new SsmcError('E_PASS', `pass '${pass}': the '${CALIBRATION_SERVICE}' service must be { tokens: Int32Array, window?, compile? }`);
  }
  return s;
}

/** The windows' rows one after another, as one f32 array (tokens × K in run order). */
function concatRows(parts: readonly Array32[]): Float32Array {
  const X = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    X.set(p, o);
    o += p.length;
  }
  return X;
}
