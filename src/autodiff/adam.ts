// Adam with a frozen-entry mask: a masked entry is never read or written, so a pruned
// weight (exactly zero) stays exactly zero and its C_n^4 pattern stays valid.

export interface AdamOptions {
  readonly lr: number;
  readonly beta1?: number;
  readonly beta2?: number;
  readonly eps?: number;
}

export class MaskedAdam {
  readonly #m: Float64Array;
  readonly #v: Float64Array;
  readonly #frozen?: Uint8Array;
  #t = 0;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;

  /** `frozen[i] = 1` marks an entry that must not change. */
  constructor(size: number, frozen?: Uint8Array, opts: Omit<AdamOptions, 'lr'> = {}) {
    this.#m = new Float64Array(size);
    this.#v = new Float64Array(size);
    this.#frozen = frozen;
    this.beta1 = opts.beta1 ?? 0.9;
    this.beta2 = opts.beta2 ?? 0.999;
    this.eps = opts.eps ?? 1e-8;
  }

  /** One step on `w` (in place) with gradient `g` and learning rate `lr`. */
  step(w: Float32Array, g: ArrayLike<number>, lr: number): void {
    this.#t++;
    const { beta1: b1, beta2: b2, eps } = this;
    const c1 = 1 / (1 - b1 ** this.#t);
    const c2 = 1 / (1 - b2 ** this.#t);
    const m = this.#m;
    const v = this.#v;
    const frozen = this.#frozen;
    for (let i = 0; i < w.length; i++) {
      if (frozen && frozen[i]) continue;
      const gi = g[i];
      m[i] = b1 * m[i] + (1 - b1) * gi;
      v[i] = b2 * v[i] + (1 - b2) * gi * gi;
      w[i] -= (lr * m[i] * c1) / (Math.sqrt(v[i] * c2) + eps);
    }
  }
}
