// sparsify-cn4: C_n^4 kernel sparsity with weight compensation and the sparse-learning
// allocator (DESIGN §1, §4; issue 3).
//
//   sparsify-cn4{method=obs n=2}                 uniform 2:4 (SparseGPT)
//   sparsify-cn4{method=obs sparsity=0.5}        adaptive: per-row n, 50% overall
//   sparsify-cn4{latency=0.6}                    adaptive: 60% of the dense decode cost
//
// Groups are 4 contiguous weights along a row's input dimension; every group of a row
// prunes the same n (0..4). The result has exact zeros, the weight's type annotated
// `cn4=[n per row]`, compensated kept weights (obs), and is checked for NaN/Inf and for
// the pattern before it is returned. A selected matrix whose input width is not a
// multiple of 4 is an error naming it (leave it out with `layers=`).
//
// Adaptive allocation, in two passes over the layers (both in SparseGPT order):
//  1. Dense statistics. Per matrix: the damage of every row at n = 0..4, measured
//     (actual sweeps at n = 1, 2, 3 give (w - ŵ)H(w - ŵ)ᵀ; n = 4 costs wᵀHw), and its
//     sensitivity: KL(dense ‖ pruned) of the next-token distributions on the
//     calibration tokens when that matrix alone is pruned 2:4 (`sens=kl`; `sens=loss`
//     takes the calibration-loss difference, mostly noise for matrices that matter
//     little), divided by its summed n = 2 damage. That factor turns every matrix's
//     damages into one currency (estimated loss). `sens-iters=k` re-measures each
//     factor k times at the pattern the allocator gives the matrix and re-allocates
//     (off by default: on mamba-shakespeare-s it did not help, see bench/accuracy).
//  2. Pruning with re-allocation (`realloc=true`): for each matrix in order, fresh
//     statistics from the already-pruned model, fresh damage tables for this matrix,
//     then the global allocation is solved again over this and all later matrices
//     (later ones with their step-1 tables) for the budget that is left; only this
//     matrix's part is applied. With `realloc=false` step 1's allocation is kept and
//     only the compensation uses fresh statistics. With `refit=true` (default) each
//     matrix is first refit by least squares to reproduce the *dense* model's layer
//     output from the pruned model's inputs (sparsity/refit.ts), and the sweeps and
//     tables start from that refit, so every layer also cancels the error reaching it.
// The budget is overall sparsity S (reached within 0.05% when row granularity allows)
// or a decode-cost budget (`latency`, a fraction of the dense cost of the selected
// layers; the cost model is packed bytes per token unless the `costModel` service gives
// one).
//
// Services: `calibration` ({ tokens, window?, compile? }: needed by every method but
// uniform magnitude), `costModel` (optional), `sparsityReport` (optional callback that
// receives the per-layer report).
//
// Engine (`engine=auto|native|js`): the OBS sweeps, damage tables, Hessians and refits,
// and the calibration forward passes (when the calibration service brings no `compile`
// of its own), run in the native helper (native/, built with the host C compiler; same
// definitions batched into GEMMs) or in the JS reference. `auto` (default) takes the
// native helper when a C compiler is present and the selected matrices hold at least
// AUTO_NATIVE_WEIGHTS weights (below that, spawning the helper costs more than the JS
// loops: a toy model prunes ~8x faster in JS).
import { SsmcError } from '../errors.ts';
import type { Graph, Value } from '../ir/graph.ts';
import { makeGraph } from '../ir/graph.ts';
import { tensorType } from '../ir/types.ts';
import type { WeightStore } from '../ir/weights.ts';
import type { LayerStats } from './analysis/calibration.ts';
import { calibrationFrom, Calibrator } from './analysis/calibration.ts';
import { definePass, option, type PassContext } from './pass.ts';
import { nativeAvailable } from '../native/build.ts';
import { nativeCompile } from '../native/graph.ts';
import { NativeKernels } from '../native/kernels.ts';
import type { CalibrationService } from './analysis/calibration.ts';
import { allocate, type AllocMatrix } from './sparsity/allocator.ts';
import { costGains, packedBytesCostModel, sparsityGains, type CostModel } from './sparsity/cost.ts';
import { jsKernels, type SparsityKernels } from './sparsity/kernels.ts';
import { cn4Violation, uniformN, type RowN } from './sparsity/masks.ts';
import { assemble, type Method } from './sparsity/prune.ts';
import type { LayerReport, SparsityReport } from './sparsity/report.ts';
import { histogram, rowsSparsity, SPARSITY_REPORT_SERVICE } from './sparsity/report.ts';
import { DEFAULT_LAYERS, findTargets, fromF64, parseLayers, toF64, type PruneTarget } from './sparsity/targets.ts';

const PASS = 'sparsify-cn4';

export const sparsifyCn4 = definePass({
  name: PASS,
  description: 'C_n^4 sparsity (n of every 4 weights along each row; n per row) with OBS compensation and a sparsity- or latency-targeted allocator',
  options: {
    method: option.enum(['magnitude', 'wanda', 'obs'], { default: 'obs', doc: 'mask scores: |w|, |w|·‖x‖, or OBS with compensation (SparseGPT sweep)' }),
    pattern: option.enum(['uniform', 'adaptive'], { doc: 'uniform: the same n everywhere (needs n); adaptive: n per row (needs sparsity or latency); inferred when omitted' }),
    n: option.int({ min: 0, max: 4, doc: 'weights pruned per group of 4 (uniform)' }),
    sparsity: option.float({ min: 0, max: 1, doc: 'target pruned fraction of the selected layers, in [0, 1) (adaptive)' }),
    latency: option.float({ min: 0, max: 1, doc: 'decode-cost budget as a fraction of the dense cost of the selected layers, in (0, 1] (adaptive)' }),
    damp: option.float({ min: 0, default: 0.001, doc: 'Hessian dampening, as a fraction of mean(diag H)' }),
    blocksize: option.int({ min: 4, max: 65536, default: 128, doc: 'columns per lazy-update block of the OBS sweep' }),
    layers: option.string({ default: DEFAULT_LAYERS, doc: 'matrix kinds to prune, joined by , or + (in_proj, x_proj, dt_proj, out_proj, embedding = the tied head)' }),
    // 512 measured equal to 4096 on mamba-shakespeare-s (50%: 2.1950 vs 2.1938 bpb; 128: 2.1991) at 1/8 of the cost.
    'sens-tokens': option.int({ min: 0, default: 512, doc: 'calibration tokens for the per-matrix sensitivity: the first N (one window cut to N when shorter); 0: unscaled damages' }),
    sens: option.enum(['kl', 'loss'], { default: 'kl', doc: 'sensitivity measure: KL(dense ‖ pruned) of the next-token distributions, or the calibration-loss difference' }),
    'sens-paths': option.bool({ default: false, doc: 'one sensitivity per output path of a matrix (in_proj x|z, x_proj dt|B|C: the parts a split sends different ways)' }),
    'sens-iters': option.int({ min: 0, max: 10, default: 0, doc: 're-measure sensitivities at the allocated pattern and re-allocate, this many times' }),
    realloc: option.bool({ default: true, doc: 're-allocate layer by layer from already-pruned statistics (adaptive)' }),
    refit: option.bool({ default: true, doc: "compensate toward the dense model's layer outputs, cancelling the error of earlier layers (adaptive)" }),
    engine: option.enum(['auto', 'native', 'js'], { default: 'auto', doc: 'numerics and calibration runs: the native helper (C, built on first use), the JS reference, or native when a C compiler is present' }),
  },
  run(graph, o, ctx) {
    const plan = resolvePlan(o);
    const targets = findTargets(graph, parseLayers(o.layers));
    if (!targets.length) return graph;
    const kernels = chooseKernels(o.engine, targets);
    const common = { damp: o.damp, blocksize: o.blocksize, kernels };
    let res: Result;
    try {
      res =
        plan.pattern === 'uniform'
          ? pruneUniform(graph, targets, plan.method, plan.n, common, ctx)
          : pruneAdaptive(graph, targets, plan, { ...common, sensTokens: o['sens-tokens'], sens: o.sens, sensPaths: o['sens-paths'], sensIters: o['sens-iters'], realloc: o.realloc, refit: o.refit }, ctx);
    } finally {
      kernels.close();
    }
    const out = finish(graph, targets, res.weights, res.n);
    const report: SparsityReport = {
      method: plan.method,
      pattern: plan.pattern,
      target: plan.pattern === 'uniform' ? `n=${plan.n}` : plan.budget.kind === 'sparsity' ? `sparsity=${plan.budget.value}` : `latency=${plan.budget.value}`,
      sparsity: overallSparsity(targets, res.n),
      relativeCost: relativeCost(targets, res.n, costModelFrom(ctx)),
      ...(res.loss ? { calibrationLoss: res.loss } : {}),
      layers: res.layers,
    };
    const cb = ctx.services[SPARSITY_REPORT_SERVICE];
    if (typeof cb === 'function') (cb as (r: SparsityReport) => void)(report);
    return out;
  },
});

// --- options -------------------------------------------------------------------------

/** Most bytes of dense layer inputs step 1 keeps for step 2's refit (130m with 4096 tokens: 1.5 GiB). */
const KEEP_DENSE_INPUTS_BYTES = 2 ** 31;

/** Smallest total of selected weights for which `engine=auto` takes the native helper. */
export const AUTO_NATIVE_WEIGHTS = 1 << 18;

function chooseKernels(engine: 'auto' | 'native' | 'js', targets: readonly PruneTarget[]): SparsityKernels {
  if (engine === 'js') return jsKernels;
  if (engine === 'auto') {
    let total = 0;
    for (const t of targets) total += t.rows * t.cols;
    if (total < AUTO_NATIVE_WEIGHTS || !nativeAvailable()) return jsKernels;
  }
  // engine=native without a compiler: NativeUnavailableError (E_UNSUPPORTED) says why.
  return new NativeKernels();
}

type Budget = { readonly kind: 'sparsity' | 'latency'; readonly value: number };
type Plan =
  | { readonly pattern: 'uniform'; readonly method: Method; readonly n: number }
  | { readonly pattern: 'adaptive'; readonly method: Method; readonly budget: Budget };

function optionError(msg: string): never {
  throw new SsmcError('E_PIPELINE', `pass '${PASS}': ${msg}`);
}

function resolvePlan(o: { method: Method; pattern?: 'uniform' | 'adaptive'; n?: number; sparsity?: number; latency?: number }): Plan {
  const pattern = o.pattern ?? (o.n !== undefined ? 'uniform' : o.sparsity !== undefined || o.latency !== undefined ? 'adaptive' : undefined);
  if (pattern === undefined) optionError(`say what to prune: n=0..4 (uniform), or sparsity=S or latency=L (adaptive)`);
  if (pattern === 'uniform') {
    if (o.n === undefined) optionError(`pattern=uniform needs option 'n' (0..4)`);
    if (o.sparsity !== undefined || o.latency !== undefined) optionError(`pattern=uniform takes 'n', not 'sparsity' or 'latency'`);
    return { pattern, method: o.method, n: o.n };
  }
  if (o.n !== undefined) optionError(`pattern=adaptive chooses n per row; option 'n' applies to pattern=uniform only`);
  if ((o.sparsity === undefined) === (o.latency === undefined)) optionError(`pattern=adaptive needs exactly one of 'sparsity' and 'latency'`);
  if (o.sparsity !== undefined) {
    if (!(o.sparsity >= 0 && o.sparsity < 1)) optionError(`option 'sparsity' must be in [0, 1), got ${o.sparsity}`);
    return { pattern, method: o.method, budget: { kind: 'sparsity', value: o.sparsity } };
  }
  if (!(o.latency! > 0 && o.latency! <= 1)) optionError(`option 'latency' must be in (0, 1], got ${o.latency}`);
  return { pattern, method: o.method, budget: { kind: 'latency', value: o.latency! } };
}

function costModelFrom(ctx: PassContext): CostModel {
  const m = ctx.services.costModel as CostModel | undefined;
  if (m === undefined) return packedBytesCostModel;
  if (typeof m !== 'object' || typeof m.rowCost !== 'function') throw new SsmcError('E_PASS', `pass '${PASS}': the 'costModel' service must have rowCost(n, inFeatures, weight)`);
  return m;
}

// --- shared --------------------------------------------------------------------------

interface Result {
  readonly weights: WeightStore;
  readonly n: RowN[];
  readonly layers: LayerReport[];
  readonly loss?: { dense: number; pruned: number };
}

interface Common {
  readonly damp: number;
  readonly blocksize: number;
  readonly kernels: SparsityKernels;
}

/** The calibration service, with the native graph runner when the kernels are native and the caller gave none. */
function calibration(ctx: PassContext, why: string, k: SparsityKernels): CalibrationService {
  const s = calibrationFrom(ctx.services, PASS, why);
  return k instanceof NativeKernels && !s.compile ? { ...s, compile: nativeCompile(k.session) } : s;
}

function layerReport(k: SparsityKernels, t: PruneTarget, n: RowN, W0: Float64Array, W: Float64Array, stats: LayerStats | undefined, sensitivity?: number): LayerReport {
  const base: LayerReport = { weight: t.weight, kind: t.kind, rows: t.rows, cols: t.cols, nHistogram: histogram(n), sparsity: rowsSparsity(n) };
  if (!stats) return base;
  const error = k.layerError(W0, W, t.rows, t.cols, stats.H);
  return { ...base, error, ...(sensitivity !== undefined ? { sensitivity } : {}) };
}

function overallSparsity(targets: readonly PruneTarget[], n: readonly RowN[]): number {
  let removed = 0;
  let total = 0;
  targets.forEach((t, i) => {
    removed += rowsSparsity(n[i]) * t.rows * t.cols;
    total += t.rows * t.cols;
  });
  return total ? removed / total : 0;
}

function relativeCost(targets: readonly PruneTarget[], n: readonly RowN[], model: CostModel): number {
  let c = 0;
  let dense = 0;
  targets.forEach((t, i) => {
    for (let r = 0; r < t.rows; r++) {
      c += model.rowCost(n[i][r], t.cols, t.weight);
      dense += model.rowCost(0, t.cols, t.weight);
    }
  });
  return dense ? c / dense : 1;
}

/** The output graph: annotated types, checked data. */
function finish(graph: Graph, targets: readonly PruneTarget[], weights: WeightStore, n: readonly RowN[]): Graph {
  const byName = new Map(targets.map((t, i) => [t.weight, i]));
  const decls: Value[] = graph.weights.map((w) => {
    const i = byName.get(w.name);
    if (i === undefined) return w;
    const t = targets[i];
    const data = weights.get(t.weight);
    const values = t.dtype === 'f32' ? (data as Float32Array) : toF64(data, t.dtype);
    const bad = cn4Violation(values, t.rows, t.cols, n[i]);
    if (bad) throw new SsmcError('E_PASS', `pass '${PASS}' produced an invalid @${t.weight}: ${bad}`);
    return { name: w.name, type: tensorType(w.type.dtype, w.type.shape, { ...stripCn4(w.type), cn4: Array.from(n[i]) }) };
  });
  return makeGraph({ ...graph, weights: decls, weightData: weights });
}

function stripCn4(t: Value['type']) {
  const { dtype: _d, shape: _s, cn4: _c, ...rest } = t;
  return rest;
}

// --- uniform ---------------------------------------------------------------------------

function pruneUniform(graph: Graph, targets: readonly PruneTarget[], method: Method, n: number, common: Common, ctx: PassContext): Result {
  const k = common.kernels;
  const cal = method === 'magnitude' && !ctx.services.calibration ? undefined : new Calibrator(graph, calibration(ctx, `method=${method}`, k), targets);
  let store = graph.weightData;
  const ns: RowN[] = [];
  const layers: LayerReport[] = [];
  targets.forEach((t, j) => {
    ctx.progress('pruning', j, targets.length);
    const stats = cal?.collect(store);
    const W0 = toF64(store.get(t.weight), t.dtype);
    const nr = uniformN(t.rows, n);
    const W = k.prune(method, W0, t.rows, t.cols, nr, stats, { ...common, what: `@${t.weight}` }).W;
    store = store.with(t.weight, fromF64(W, t.dtype));
    ns.push(nr);
    layers.push(layerReport(k, t, nr, W0, W, stats));
    if (cal && j + 1 < targets.length) cal.advance(store);
  });
  ctx.progress('pruning', targets.length, targets.length);
  return { weights: store, n: ns, layers };
}

// --- adaptive --------------------------------------------------------------------------

interface AdaptiveOptions extends Common {
  readonly sensTokens: number;
  readonly sens: 'kl' | 'loss';
  readonly sensIters: number;
  readonly sensPaths: boolean;
  readonly realloc: boolean;
  readonly refit: boolean;
}

function pruneAdaptive(graph: Graph, targets: readonly PruneTarget[], plan: Plan & { pattern: 'adaptive' }, o: AdaptiveOptions, ctx: PassContext): Result {
  const k = o.kernels;
  const cal = new Calibrator(graph, calibration(ctx, 'pattern=adaptive', k), targets);
  const model = costModelFrom(ctx);
  const gains = targets.map((t) => (plan.budget.kind === 'sparsity' ? sparsityGains(t.cols) : costGains(model, t.cols, t.weight)));
  let total = 0;
  targets.forEach((t, i) => (total += t.rows * gains[i][4]));
  const targetGain = plan.budget.kind === 'sparsity' ? plan.budget.value * total : (1 - plan.budget.value) * total;
  const tol = 5e-4 * total;
  const dense = graph.weightData;
  const what = (t: PruneTarget) => ({ ...o, what: `@${t.weight}` });

  // 1. Dense statistics: damage tables and sensitivities.
  const tables: Float64Array[] = [];
  const results: (Float32Array | undefined)[][] = [];
  const W0s: Float64Array[] = [];
  // Sensitivities are measured per path: the row ranges of a matrix whose outputs a
  // split sends different ways (in_proj: x | z; x_proj: dt | B | C) with `sens-paths`,
  // else the whole matrix. Flat over (matrix, path).
  const paths = targets.map((t) => (o.sensPaths ? rowPaths(graph, t) : [[0, t.rows] as const]));
  const flat: { j: number; a: number; b: number }[] = [];
  const pathOfRow = targets.map((t, j) => {
    const idx = new Int32Array(t.rows);
    for (const [a, b] of paths[j]) {
      for (let r = a; r < b; r++) idx[r] = flat.length;
      flat.push({ j, a, b });
    }
    return idx;
  });
  const rises = new Array<number>(flat.length).fill(0);
  const d2 = new Array<number>(flat.length).fill(0);
  const sens = o.sensTokens > 0;
  const denseLoss = sens ? cal.loss(dense, o.sensTokens) : 0;
  const ref = sens && o.sens === 'kl' ? cal.logProbs(dense, o.sensTokens) : undefined;
  /** Calibration-loss rise of `store` (KL to dense, or the loss difference), from the current anchor. */
  const rise = (store: WeightStore) => (ref ? cal.kl(store, ref, o.sensTokens) : cal.loss(store, o.sensTokens) - denseLoss);
  /** W0 with rows [a, b) taken from W. */
  const mixRows = (W0: Float64Array, W: Float64Array, K: number, a: number, b: number) => {
    const out = W0.slice();
    out.set(W.subarray(a * K, b * K), a * K);
    return out;
  };
  const steps = targets.length * (2 + o.sensIters);
  let step = 0;
  // The refit in step 2 aims at the dense layer inputs X_d; step 1 runs the dense model
  // to the same inputs, so it keeps them (when they fit) instead of step 2 running the
  // dense model a second time. The first matrix is not refit.
  let denseBytes = 0;
  targets.forEach((t, j) => (denseBytes += j > 0 ? cal.tokens.length * t.cols * 4 : 0));
  const keepXd = o.refit && denseBytes <= KEEP_DENSE_INPUTS_BYTES;
  const Xds: (Float32Array | undefined)[] = [];
  targets.forEach((t, j) => {
    ctx.progress('dense statistics', step++, steps);
    let stats: LayerStats;
    if (keepXd && j > 0) {
      const r = cal.collectInputs(dense);
      stats = r.stats;
      Xds[j] = r.X;
    } else stats = cal.collect(dense);
    const W0 = toF64(dense.get(t.weight), t.dtype);
    const m = k.table(plan.method, W0, t.rows, t.cols, stats, what(t));
    tables.push(m.table);
    W0s.push(W0);
    results.push(o.sensIters > 0 ? m.results.map((r) => (r ? Float32Array.from(r) : undefined)) : []);
    for (let r = 0; r < t.rows; r++) d2[pathOfRow[j][r]] += m.table[r * 5 + 2];
    for (const [a, b] of paths[j]) {
      const Wp = paths[j].length === 1 ? m.results[2]! : mixRows(W0, m.results[2]!, t.cols, a, b);
      rises[pathOfRow[j][a]] = sens ? rise(dense.with(t.weight, fromF64(Wp, t.dtype))) : 1;
    }
    if (j + 1 < targets.length) cal.advance(dense);
  });
  let scales = sensitivityScales(rises, d2);
  const scaled = (table: Float64Array, j: number) => {
    const s = table.slice();
    for (let r = 0; r < table.length / 5; r++) for (let n = 0; n < 5; n++) s[r * 5 + n] *= scales[pathOfRow[j][r]];
    return s;
  };
  let mats: AllocMatrix[] = targets.map((t, j) => ({ rows: t.rows, damage: scaled(tables[j], j), gain: gains[j] }));
  // 1b. Sensitivities at the operating point: each path alone pruned to its allocated
  // pattern, rescaled, allocated again (the 2:4 figure misjudges matrices the allocator
  // then prunes far more or far less than 2:4).
  for (let it = 0; sens && it < o.sensIters; it++) {
    const alloc = allocate(mats, targetGain, tol).n;
    cal.reset();
    const r = new Array<number>(flat.length).fill(0);
    const d = new Array<number>(flat.length).fill(0);
    targets.forEach((t, j) => {
      ctx.progress('sensitivities', step++, steps);
      for (let row = 0; row < t.rows; row++) d[pathOfRow[j][row]] += tables[j][row * 5 + alloc[j][row]];
      const W = assemble(W0s[j], results[j], t.rows, t.cols, alloc[j]);
      for (const [a, b] of paths[j]) {
        const p = pathOfRow[j][a];
        r[p] = d[p] > 0 ? rise(dense.with(t.weight, fromF64(paths[j].length === 1 ? W : mixRows(W0s[j], W, t.cols, a, b), t.dtype))) : 0;
      }
      if (j + 1 < targets.length) cal.advance(dense);
    });
    // A path the allocation leaves dense keeps its previous scale.
    const next = sensitivityScales(r, d);
    scales = scales.map((old, p) => (d[p] > 0 ? next[p] : old));
    mats = targets.map((t, j) => ({ rows: t.rows, damage: scaled(tables[j], j), gain: gains[j] }));
  }
  /** The reported sensitivity of matrix j: the summed rises of its paths. */
  const matrixRise = (j: number) => flat.reduce((acc, f, p) => (f.j === j ? acc + rises[p] : acc), 0);
  results.length = 0;
  const once = o.realloc ? undefined : allocate(mats, targetGain, tol).n;

  // 2. Prune in order from already-pruned statistics, re-allocating as we go.
  cal.reset();
  let store = dense;
  let fixed = 0;
  const ns: RowN[] = [];
  const layers: LayerReport[] = [];
  const calD = o.refit && !keepXd ? new Calibrator(graph, calibration(ctx, 'pattern=adaptive', k), targets) : undefined;
  targets.forEach((t, j) => {
    ctx.progress('pruning', step++, steps);
    let stats: LayerStats;
    let W0 = toF64(store.get(t.weight), t.dtype);
    if (o.refit && j > 0) {
      // Aim at the dense model's output: W0 becomes the least-squares refit W*.
      const Xd = keepXd ? Xds[j]! : calD!.inputs(dense);
      Xds[j] = undefined;
      const c = k.cross(cal.inputs(store), Xd, t.cols);
      stats = c.stats;
      W0 = k.refit(W0, t.rows, t.cols, stats.H, c.C, o.damp, `@${t.weight}`);
    } else stats = cal.collect(store);
    let nr: RowN;
    let W: Float64Array;
    if (once) {
      nr = once[j];
      W = k.prune(plan.method, W0, t.rows, t.cols, nr, stats, what(t)).W;
    } else {
      const m = k.table(plan.method, W0, t.rows, t.cols, stats, what(t));
      const now: AllocMatrix = { rows: t.rows, damage: scaled(m.table, j), gain: gains[j] };
      nr = allocate([now, ...mats.slice(j + 1)], targetGain - fixed, tol).n[0];
      W = assemble(W0, m.results, t.rows, t.cols, nr);
    }
    for (let r = 0; r < t.rows; r++) fixed += gains[j][nr[r]];
    store = store.with(t.weight, fromF64(W, t.dtype));
    ns.push(nr);
    layers.push(layerReport(k, t, nr, toF64(dense.get(t.weight), t.dtype), W, stats, o.sensTokens > 0 ? matrixRise(j) : undefined));
    if (j + 1 < targets.length) {
      cal.advance(store);
      calD?.advance(dense);
    }
  });
  ctx.progress('pruning', steps, steps);
  let loss: Result['loss'];
  if (o.sensTokens > 0) {
    cal.reset();
    loss = { dense: denseLoss, pruned: cal.loss(store, o.sensTokens) };
  }
  return { weights: store, n: ns, layers, loss };
}

/**
 * The row ranges of a matrix whose output a `tensor.split` (the only reader of the
 * linear's output) sends different ways; the whole matrix otherwise.
 */
function rowPaths(graph: Graph, t: PruneTarget): (readonly [number, number])[] {
  const lin = graph.nodes.find((n) => n.op === 'nn.linear' && n.inputs[1] === t.weight);
  const out = lin?.outputs[0]?.name;
  const readers = graph.nodes.filter((n) => out !== undefined && n.inputs.includes(out));
  if (readers.length === 1 && readers[0].op === 'tensor.split' && !graph.outputs.includes(out!)) {
    const sizes = readers[0].attrs.sizes as readonly number[];
    if (Array.isArray(sizes) && sizes.reduce((a, b) => a + b, 0) === t.rows) {
      const res: (readonly [number, number])[] = [];
      let a = 0;
      for (const n of sizes) {
        res.push([a, a + n]);
        a += n;
      }
      return res;
    }
  }
  return [[0, t.rows]];
}

/**
 * Loss rise per unit of n = 2 damage, per matrix (or path). A rise at or below zero (noise: the
 * matrix barely matters) is floored at 1% of the median positive rise, so such a matrix
 * is cheap but not free.
 */
function sensitivityScales(rises: readonly number[], d2: readonly number[]): number[] {
  const pos = rises.filter((r) => r > 0).sort((a, b) => a - b);
  const floor = pos.length ? 0.01 * pos[Math.floor(pos.length / 2)] : 1;
  return rises.map((r, j) => (d2[j] > 0 ? Math.max(r, floor) / d2[j] : 1));
}
