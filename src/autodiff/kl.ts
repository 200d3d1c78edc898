// Distillation loss: KL(teacher ‖ student) of next-token distributions, and its
// gradient with respect to the student's logits (softmax(student) − teacher probs).

/** Row-wise log-softmax of T×V logits (f64 sums), as f32. */
export function logSoftmax(logits: ArrayLike<number>, T: number, V: number): Float32Array {
  const out = new Float32Array(T * V);
  for (let t = 0; t < T; t++) {
    const o = t * V;
    const lz = logSumExp(logits, o, V);
    for (let v = 0; v < V; v++) out[o + v] = logits[o + v] - lz;
  }
  return out;
}

/**
 * Mean over the T positions of KL(p_teacher ‖ softmax(logits)) in nats, with
 * d mean / d logits. `teacher` holds the teacher's log-probabilities (T×V).
 */
export function klToTeacher(logits: ArrayLike<number>, teacher: ArrayLike<number>, T: number, V: number): { loss: number; grad: Float64Array } {
  const grad = new Float64Array(T * V);
  let loss = 0;
  const inv = 1 / T;
  for (let t = 0; t < T; t++) {
    const o = t * V;
    const lz = logSumExp(logits, o, V);
    for (let v = 0; v < V; v++) {
      const ls = logits[o + v] - lz;
      const lt = teacher[o + v];
      const pt = Math.exp(lt);
      if (pt > 0) loss += pt * (lt - ls);
      grad[o + v] = (Math.exp(ls) - pt) * inv;
    }
  }
  return { loss: loss * inv, grad };
}

/** log Σ exp over logits[o .. o+V), shifted by the row's maximum (f64). */
function logSumExp(logits: ArrayLike<number>, o: number, V: number): number {
  let m = -Infinity;
  for (let v = 0; v < V; v++) if (logits[o + v] > m) m = logits[o + v];
  let z = 0;
  for (let v = 0; v < V; v++) z += Math.exp(logits[o + v] - m);
  return m + Math.log(z);
}
