// Held-out likelihood with the fixtures' windowing: non-overlapping windows of W
// tokens, each from a zero state; position i of window k predicts token kW+i+1, so
// every token but the first is scored exactly once.
import { SsmcError } from '../errors.ts';
import type { ModelRunner } from '../runtime/runner.ts';

export interface EvalResult {
  /** Number of scored tokens. */
  readonly tokens: number;
  /** Mean negative log-likelihood, nats per scored token. */
  readonly nll: number;
  readonly bits_per_token: number;
  readonly perplexity: number;
}

export interface EvalOptions {
  readonly window?: number;
  /** Called after each window with (scored so far, total to score). */
  readonly onProgress?: (done: number, total: number) => void;
}

export function evaluateTokens(runner: ModelRunner, tokens: Int32Array, opts: EvalOptions = {}): EvalResult {
  const W = opts.window ?? 512;
  if (!Number.isSafeInteger(W) || W < 1) throw new SsmcError('E_ARG', `window must be a positive integer, got ${W}`);
  if (tokens.length < 2) throw new SsmcError('E_ARG', `need at least 2 tokens to score, got ${tokens.length}`);
  const V = runner.vocabSize;
  for (let i = 0; i < tokens.length; i++) {
    if (tokens[i] < 0 || tokens[i] >= V) throw new SsmcError('E_TOKENS', `token ${tokens[i]} at position ${i} is outside the vocabulary [0, ${V})`);
  }
  const total = tokens.length - 1;
  let sum = 0;
  let scored = 0;
  for (let start = 0; start < tokens.length; start += W) {
    const win = tokens.subarray(start, Math.min(start + W, tokens.length));
    runner.reset();
    const logits = runner.prefill(win);
    for (let i = 0; i < win.length && start + i + 1 < tokens.length; i++) {
      sum += nllOf(logits, i * V, V, tokens[start + i + 1]);
      scored++;
    }
    opts.onProgress?.(scored, total);
  }
  const nll = sum / scored;
  return { tokens: scored, nll, bits_per_token: nll / Math.LN2, perplexity: Math.exp(nll) };
}

/** -log softmax(logits[off..off+V])[target], in f64 with the max subtracted. */
export function nllOf(logits: Float32Array, off: number, V: number, target: number): number {
  let max = -Infinity;
  for (let j = 0; j < V; j++) if (logits[off + j] > max) max = logits[off + j];
  let s = 0;
  for (let j = 0; j < V; j++) s += Math.exp(logits[off + j] - max);
  return Math.log(s) + max - logits[off + target];
}
