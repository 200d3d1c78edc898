// What every backend offers to run a Mamba model token by token. Logits and state
// live in the runner; callers see f32 logits and opaque state snapshots.

export interface StateSnapshot {
  /** Per layer: conv state [e*k] then ssm state [e*s], f32. */
  readonly conv: readonly Float32Array[];
  readonly ssm: readonly Float32Array[];
}

export interface ModelRunner {
  readonly vocabSize: number;
  /** Zero conv and SSM state. */
  reset(): void;
  /** Feeds one token, returns the logits predicting the next (vocabSize values). */
  step(token: number): Float32Array;
  /** Feeds a sequence, returns logits [tokens.length, vocabSize] row-major. */
  prefill(tokens: Int32Array): Float32Array;
  /**
   * Optional: feeds a sequence and returns only the last token's logits (vocabSize
   * values), the same as the last row of `prefill`. Generation needs no others, and a
   * backend that skips the head for the other tokens saves ~30% of a 130m prefill.
   */
  prefillLast?(tokens: Int32Array): Float32Array;
  saveState(): StateSnapshot;
  restoreState(s: StateSnapshot): void;
  close(): void;
}
