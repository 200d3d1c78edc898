// Distillation training loop: Adam on chosen weights of a sequence graph, minimising
// the mean KL(teacher ‖ student) of next-token distributions over token windows, each
// run from a zero state. Frozen entries (pruned weights) never change.
import { SsmcError } from '../errors.ts';
import type { Graph } from '../ir/graph.ts';
import { makeGraph } from '../ir/graph.ts';
import { Interpreter } from '../ir/interpreter.ts';
import { Prng } from '../util/prng.ts';
import { MaskedAdam } from './adam.ts';
import { valueAndGrad } from './grad.ts';
import { klToTeacher, logSoftmax } from './kl.ts';

export interface DistillOptions {
  readonly steps: number;
  readonly lr: number;
  /** Windows per step (their gradients are averaged). */
  readonly batch: number;
  /** Steps of linear warm-up before the cosine decay to zero. */
  readonly warmup: number;
  readonly seed: number;
  /** Weights to train; `frozen` marks entries of them that must not change. */
  readonly params: readonly string[];
  readonly frozen: ReadonlyMap<string, Uint8Array>;
  readonly progress?: (stage: string, done: number, total: number) => void;
}

export interface DistillResult {
  /** The trained weights (fresh arrays), by name. */
  readonly weights: Map<string, Float32Array>;
  /** Mean KL (nats) of the first and the last tenth of the steps (training windows). */
  readonly klStart: number;
  readonly klEnd: number;
  readonly steps: number;
}

/** The graph's token input and logits output (the only output the loss reads). */
export function tokenAndLogits(graph: Graph): { token: string; logits: string } {
  const ints = graph.inputs.filter((v) => v.type.dtype === 'i32');
  if (ints.length !== 1 || ints[0].type.shape.length !== 1) throw new SsmcError('E_PASS', `distillation needs a sequence graph with one i32 [L] token input; @${graph.name} has ${ints.length} i32 inputs`);
  const logits = graph.outputs.includes('logits') ? 'logits' : graph.outputs[0];
  return { token: ints[0].name, logits };
}

/** Zero values for every float input (conv and scan states: each window starts fresh). */
function zeroInputs(graph: Graph): Record<string, Float32Array> {
  const z: Record<string, Float32Array> = {};
  for (const v of graph.inputs) if (v.type.dtype !== 'i32') z[v.name] = new Float32Array(v.type.shape.reduce((a, b) => a * b, 1));
  return z;
}

/** Windows of `L` tokens (a trailing partial window is dropped). */
export function windowsOf(tokens: Int32Array, L: number): Int32Array[] {
  const out: Int32Array[] = [];
  for (let o = 0; o + L <= tokens.length; o += L) out.push(tokens.subarray(o, o + L));
  return out;
}

/** The teacher's next-token log-probabilities (L×V) on each window. */
export function teacherLogProbs(teacher: Graph, windows: readonly Int32Array[], progress?: DistillOptions['progress']): Float32Array[] {
  const { token, logits } = tokenAndLogits(teacher);
  const interp = new Interpreter(teacher);
  const zeros = zeroInputs(teacher);
  return windows.map((w, i) => {
    const out = interp.run({ ...zeros, [token]: w })[logits];
    progress?.('teacher', i + 1, windows.length);
    const [L, V] = out.type.shape;
    return logSoftmax(out.data, L, V);
  });
}

/** Learning rate at step s (0-based): linear warm-up, then cosine decay to zero. */
export function lrAt(s: number, o: Pick<DistillOptions, 'steps' | 'lr' | 'warmup'>): number {
  if (s < o.warmup) return (o.lr * (s + 1)) / o.warmup;
  const p = (s - o.warmup) / Math.max(1, o.steps - o.warmup);
  return 0.5 * o.lr * (1 + Math.cos(Math.PI * p));
}

export function distill(student: Graph, windows: readonly Int32Array[], teacher: readonly Float32Array[], o: DistillOptions): DistillResult {
  if (windows.length === 0) throw new SsmcError('E_PASS', 'distillation needs at least one full window of calibration tokens');
  const { token, logits } = tokenAndLogits(student);
  // Private working copies, updated in place between steps: the graph holding them
  // never leaves this function, so the stores' no-write convention is kept outside.
  const work = new Map<string, Float32Array>();
  let store = student.weightData;
  for (const name of o.params) {
    const src = student.weightData.get(name);
    if (!(src instanceof Float32Array)) throw new SsmcError('E_PASS', `weight @${name} is not stored as f32; fine-tune before cast-weights`);
    const copy = Float32Array.from(src);
    work.set(name, copy);
    store = store.with(name, copy);
  }
  const graph = makeGraph({ ...student, weightData: store });
  const adams = new Map(o.params.map((n) => [n, new MaskedAdam(work.get(n)!.length, o.frozen.get(n))]));
  const zeros = zeroInputs(graph);
  const rng = new Prng(o.seed, 'sparse-finetune');
  let order: number[] = [];
  const losses: number[] = [];
  for (let s = 0; s < o.steps; s++) {
    const sum = new Map<string, Float64Array>();
    let loss = 0;
    for (let b = 0; b < o.batch; b++) {
      if (order.length === 0) order = shuffled(windows.length, rng);
      const w = order.pop()!;
      const r = valueAndGrad(graph, { ...zeros, [token]: windows[w] }, o.params, (outs) => {
        const y = outs[logits];
        const [L, V] = y.type.shape;
        const kl = klToTeacher(y.data, teacher[w], L, V);
        return { loss: kl.loss, grads: { [logits]: kl.grad } };
      });
      loss += r.loss / o.batch;
      for (const [n, g] of r.grads) {
        const acc = sum.get(n);
        if (!acc) sum.set(n, g);
        else for (let i = 0; i < g.length; i++) acc[i] += g[i];
      }
    }
    if (!Number.isFinite(loss)) throw new SsmcError('E_PASS', `distillation diverged at step ${s + 1} (loss ${loss}); lower lr`);
    losses.push(loss);
    const lr = lrAt(s, o);
    for (const [n, g] of sum) {
      if (o.batch > 1) for (let i = 0; i < g.length; i++) g[i] /= o.batch;
      adams.get(n)!.step(work.get(n)!, g, lr);
    }
    o.progress?.('fine-tune', s + 1, o.steps);
  }
  const tenth = Math.max(1, Math.floor(losses.length / 10));
  const mean = (a: number[]) => a.reduce((x, y) => x + y, 0) / Math.max(1, a.length);
  const weights = new Map<string, Float32Array>();
  for (const [n, w] of work) {
    for (let i = 0; i < w.length; i++) if (!Number.isFinite(w[i])) throw new SsmcError('E_PASS', `distillation produced a non-finite value in @${n}`);
    weights.set(n, Float32Array.from(w));
  }
  return { weights, klStart: mean(losses.slice(0, tenth)), klEnd: mean(losses.slice(-tenth)), steps: o.steps };
}

function shuffled(n: number, rng: Prng): number[] {
  const a = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng.float() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}
