// Finite-difference checks shared by the autodiff tests: a directional derivative by
// central differences against the inner product of the analytic gradient with the
// direction. The forward passes run in f32, so the tolerance is relative (~1e-2).
import { expect } from 'vitest';
import { Prng } from '../../src/util/prng.ts';

/** Random values uniform in [lo, hi). */
export function uniform(rng: Prng, n: number, lo = -1, hi = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.uniform(lo, hi);
  return a;
}

export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/**
 * Checks d/dε f(x + ε v) at 0 (central differences, step `eps`) against `analytic`.
 * `f(sign)` evaluates at x + sign·eps·v.
 */
export function expectDirectional(f: (sign: number) => number, eps: number, analytic: number, what: string, rel = 2e-2, abs = 2e-4): void {
  const fd = (f(1) - f(-1)) / (2 * eps);
  const tol = rel * Math.max(Math.abs(fd), Math.abs(analytic)) + abs;
  expect(Math.abs(fd - analytic), `${what}: finite difference ${fd} vs gradient ${analytic}`).toBeLessThanOrEqual(tol);
}
