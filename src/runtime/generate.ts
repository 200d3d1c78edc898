// Text generation on any runner: feed the prompt, then sample token by token.
import { SsmcError } from '../errors.ts';
import type { ModelRunner } from './runner.ts';

export interface GenerateOptions {
  /** Tokens to produce. */
  readonly maxTokens: number;
  /** 0 = greedy (argmax); otherwise softmax(logits / T) sampling. */
  readonly temperature?: number;
  /** Uniform [0, 1) source for sampling; required when temperature > 0. */
  readonly random?: () => number;
  /** Called with each produced token as soon as it exists. */
  readonly onToken?: (token: number) => void;
}

export function generate(runner: ModelRunner, prompt: Int32Array, opts: GenerateOptions): number[] {
  if (prompt.length === 0) throw new SsmcError('E_ARG', 'the prompt must hold at least one token');
  const T = opts.temperature ?? 0;
  if (T > 0 && !opts.random) throw new SsmcError('E_ARG', 'sampling with temperature > 0 needs a random source');
  runner.reset();
  const V = runner.vocabSize;
  let logits = runner.prefillLast ? runner.prefillLast(prompt) : runner.prefill(prompt).subarray((prompt.length - 1) * V, prompt.length * V);
  const out: number[] = [];
  for (let i = 0; i < opts.maxTokens; i++) {
    const tok = T > 0 ? sample(logits, T, opts.random!) : argmax(logits);
    out.push(tok);
    opts.onToken?.(tok);
    if (i + 1 < opts.maxTokens) logits = runner.step(tok);
  }
  return out;
}

export function argmax(a: Float32Array): number {
  let best = 0;
  for (let i = 1; i < a.length; i++) if (a[i] > a[best]) best = i;
  return best;
}

export function sample(logits: Float32Array, temperature: number, random: () => number): number {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i] > max) max = logits[i];
  let sum = 0;
  const p = new Float64Array(logits.length);
  for (let i = 0; i < logits.length; i++) sum += p[i] = Math.exp((logits[i] - max) / temperature);
  let u = random() * sum;
  for (let i = 0; i < p.length; i++) {
    u -= p[i];
    if (u < 0) return i;
  }
  return p.length - 1;
}
