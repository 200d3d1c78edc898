// sparse-finetune: a few hundred Adam steps on the calibration tokens that pull a
// pruned model's next-token distributions back toward the dense model's
// (distillation: minimise mean KL(dense teacher ‖ student) per position), so the kept
// weights optimise the network loss that one-shot, layer-wise pruning cannot see.
//
//   sparsify-cn4{method=obs sparsity=0.5},sparse-finetune{steps=200}
//
// The teacher is the graph as it was before pruning. A pass only sees its own input
// (already pruned), so the dense graph comes from the `teacher` service
// ({ graph }; any form, lifted like the student). The pass manager offers the run's
// input graph under that name unless the caller provides one, so a pipeline string
// `sparsify-cn4{…},sparse-finetune` distills toward the model it started from. It is a
// teacher, not labels: the student is pulled toward the dense model's predictions, so
// fine-tuning cannot "train the model more" than the dense model on the calibration
// text. Only calibration tokens are used (the `calibration` service).
//
// Masks: every C_n^4-annotated weight keeps its zeros exactly (the update is masked),
// so every cn4 annotation stays valid; this is checked before returning. Weights are
// trained in f32 (run it before cast-weights). Deterministic: window order comes from
// `seed`; the arithmetic is the interpreter's and the JS backward rules (src/autodiff).
//
// Cost: a step is one interpreter forward plus the backward rules (about twice the
// forward's work) over `batch` windows. On mamba-shakespeare-s (d_model 128, 4 layers,
// ~0.5 M multiply-adds a token) the default 200 steps of one 512-token window take
// ~7 min on a shared 2-core machine, plus ~1 min for the teacher's log-probabilities
// (bench/accuracy/results.md). Time scales with steps × window × multiply-adds per
// token; memory with the window's activations plus the teacher's log-probabilities for
// every calibration token (tokens × vocab f32). The 130m shape is ~270x the work per
// token (~30 h for the default run) and 6.6 GB of teacher log-probabilities for 32 K
// tokens: too big for this JS pass; fine-tune such models in a framework with fast
// autodiff and import the result.
import { SsmcError } from '../errors.ts';
import { distill, teacherLogProbs, windowsOf } from '../autodiff/distill.ts';
import type { Graph } from '../ir/graph.ts';
import { liftToSequence } from '../ir/sequence.ts';
import { definePass, option, type PassContext } from './pass.ts';
import type { CalibrationService } from './analysis/calibration.ts';
import { cn4Violation } from './sparsity/masks.ts';

const PASS = 'sparse-finetune';

/** Service name of the dense teacher: `{ graph }`, the model before the pipeline. */
export const TEACHER_SERVICE = 'teacher';
export interface TeacherService {
  readonly graph: Graph;
}

/** Optional service: a callback receiving what the fine-tune did. */
export const FINETUNE_REPORT_SERVICE = 'sparseFinetuneReport';
export interface FinetuneReport {
  readonly steps: number;
  readonly windows: number;
  readonly window: number;
  readonly params: readonly string[];
  /** Mean training KL (nats/position) over the first and last tenth of the steps. */
  readonly klStart: number;
  readonly klEnd: number;
  readonly seconds: number;
}

export const sparseFinetune = definePass({
  name: PASS,
  description: 'distillation fine-tuning of the kept weights after pruning: Adam on KL(dense teacher ‖ pruned) over the calibration tokens, pruned weights held at zero (JS autodiff: fixture-sized models, not 130m)',
  options: {
    steps: option.int({ min: 0, max: 100000, default: 200, doc: 'Adam steps' }),
    lr: option.float({ min: 0, max: 1, default: 0.0005, doc: 'peak learning rate (linear warm-up, cosine decay to zero)' }),
    warmup: option.int({ min: 0, default: 10, doc: 'warm-up steps' }),
    window: option.int({ min: 2, max: 65536, default: 512, doc: 'tokens per training window (each from a zero state)' }),
    batch: option.int({ min: 1, max: 1024, default: 1, doc: 'windows per step' }),
    params: option.enum(['linear', 'all'], { default: 'linear', doc: 'what to train: the weights of linear layers (kept entries), or every float weight' }),
    seed: option.int({ default: 0, doc: 'seed of the window order' }),
  },
  run(graph, o, ctx) {
    if (o.steps === 0) return graph;
    const t0 = performance.now();
    const teacher = ctx.service<TeacherService>(TEACHER_SERVICE).graph;
    const { tokens } = ctx.service<CalibrationService>('calibration');
    const student = sequenceForm(graph, o.window);
    const window = student.inputs.find((v) => v.type.dtype === 'i32')!.type.shape[0];
    const windows = windowsOf(tokens, window);
    if (windows.length === 0) throw new SsmcError('E_PASS', `${PASS} needs at least ${window} calibration tokens (one window), got ${tokens.length}`);
    const params = trainable(graph, o.params);
    const frozen = new Map<string, Uint8Array>();
    for (const w of graph.weights) {
      if (!params.includes(w.name) || !w.type.cn4) continue;
      const data = graph.weightData.get(w.name);
      const f = new Uint8Array(data.length);
      for (let i = 0; i < data.length; i++) f[i] = data[i] === 0 ? 1 : 0;
      frozen.set(w.name, f);
    }
    const progress = (stage: string, done: number, total: number) => ctx.progress(stage, done, total);
    const ref = teacherLogProbs(sequenceForm(teacher, window), windows, progress);
    const res = distill(student, windows, ref, { steps: o.steps, lr: o.lr, batch: o.batch, warmup: Math.min(o.warmup, o.steps), seed: o.seed, params, frozen, progress });
    let store = graph.weightData;
    for (const [name, w] of res.weights) store = store.with(name, w);
    const out: Graph = { ...graph, weightData: store };
    checkMasks(out);
    report(ctx, { steps: o.steps, windows: windows.length, window, params, klStart: res.klStart, klEnd: res.klEnd, seconds: (performance.now() - t0) / 1000 });
    return out;
  },
});

/** The graph over `window` tokens (a decode graph is lifted; a prefill graph keeps its L). */
function sequenceForm(graph: Graph, window: number): Graph {
  const tok = graph.inputs.filter((v) => v.type.dtype === 'i32');
  if (tok.length !== 1) throw new SsmcError('E_PASS', `${PASS} needs a graph with one i32 token input; @${graph.name} has ${tok.length}`);
  return tok[0].type.shape.length === 0 ? liftToSequence(graph, window) : graph;
}

/** Weight names to train: weights of nn.linear nodes (`linear`) or every f32 weight. */
function trainable(graph: Graph, which: 'linear' | 'all'): string[] {
  const f32 = new Set(graph.weights.filter((w) => w.type.dtype === 'f32').map((w) => w.name));
  if (which === 'all') return [...f32];
  const names = new Set<string>();
  for (const n of graph.nodes) if (n.op === 'nn.linear' && f32.has(n.inputs[1])) names.add(n.inputs[1]);
  return [...names];
}

function checkMasks(graph: Graph): void {
  for (const w of graph.weights) {
    if (!w.type.cn4) continue;
    const [rows, K] = w.type.shape;
    const bad = cn4Violation(graph.weightData.get(w.name), rows, K, w.type.cn4);
    if (bad) throw new SsmcError('E_INTERNAL', `${PASS} broke the C_n^4 pattern of @${w.name}: ${bad}`);
  }
}

function report(ctx: PassContext, r: FinetuneReport): void {
  const cb = ctx.services[FINETUNE_REPORT_SERVICE];
  if (typeof cb === 'function') (cb as (r: FinetuneReport) => void)(r);
}
