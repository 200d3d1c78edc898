// Shared by the C backend tests: compiled folders under one temp root, C_n^4
// annotation of random graphs, and the differential comparison.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import type { Graph } from '../../../src/ir/graph.ts';
import { makeGraph, walkNodes } from '../../../src/ir/graph.ts';
import type { ModelRunner } from '../../../src/runtime/runner.ts';
import { InterpRunner } from '../../../src/backends/interp/runner.ts';
import { buildMambaGraph } from '../../../src/frontend/mamba-graph.ts';
import { runCli } from '../../helpers/cli.ts';
import { lcg, randomCheckpoint } from '../../helpers/random-model.ts';

let root: string | undefined;
let counter = 0;
/** A fresh folder for one compiled model. */
export function outDir(tag: string): string {
  root ??= mkdtempSync(join(tmpdir(), 'ssmc-c-test-'));
  return join(root, `${tag}-${counter++}`);
}

export const QEMU = ['qemu-aarch64', '-L', '/usr/aarch64-linux-gnu'];

/**
 * Annotates every nn.linear weight with a per-row n (`n` fixed, or random 0..4 when
 * undefined) and zeroes the pruned positions of each full group of 4 (random ones).
 */
export function annotateCn4(g: Graph, seed: number, n?: number): Graph {
  const rnd = lcg(seed);
  const targets = new Set<string>();
  for (const node of walkNodes(g)) if (node.op === 'nn.linear') targets.add(node.inputs[1]);
  let store = g.weightData;
  const weights = g.weights.map((w) => {
    if (!targets.has(w.name) || w.type.dtype !== 'f32') return w;
    const [N, K] = w.type.shape;
    const data = Float32Array.from(store.get(w.name) as Float32Array);
    const cn4 = Array.from({ length: N }, () => n ?? Math.floor(rnd() * 5));
    for (let r = 0; r < N; r++) {
      for (let g4 = 0; g4 + 4 <= K; g4 += 4) {
        const pos = [0, 1, 2, 3].sort(() => rnd() - 0.5).slice(0, cn4[r]);
        for (const p of pos) data[r * K + g4 + p] = 0;
      }
      // A row that removes everything (n = 4) is zero everywhere, its tail included.
      if (cn4[r] === 4) data.fill(0, r * K, r * K + K);
    }
    store = store.with(w.name, data);
    return { name: w.name, type: { ...w.type, cn4 } };
  });
  return makeGraph({ ...g, weights, weightData: store });
}

/** max |a - b| / max |b| over the whole array. */
export function relErr(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let d = 0;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    if (!Number.isFinite(a[i])) return Infinity;
    d = Math.max(d, Math.abs(a[i] - b[i]));
    m = Math.max(m, Math.abs(b[i]));
  }
  return m === 0 ? d : d / m;
}

/**
 * Decode, prefill (crossing chunk boundaries), and save / restore: the runner under
 * test equals the reference. Returns the worst relative error seen.
 */
export function differential(c: ModelRunner, ref: ModelRunner, tokens: Int32Array, tol: number): number {
  let worst = 0;
  const check = (a: Float32Array, b: Float32Array) => {
    const e = relErr(a, b);
    worst = Math.max(worst, e);
    expect(e).toBeLessThanOrEqual(tol);
  };
  c.reset();
  ref.reset();
  const half = Math.max(1, tokens.length >> 1);
  for (const t of tokens.subarray(0, half)) check(c.step(t), ref.step(t));
  const saved = c.saveState();
  const savedRef = ref.saveState();
  saved.ssm.forEach((s, i) => check(s, savedRef.ssm[i]));
  saved.conv.forEach((s, i) => check(s, savedRef.conv[i]));
  check(c.prefill(tokens.subarray(half)), ref.prefill(tokens.subarray(half)));
  // Back to the snapshot: the same continuation again.
  c.restoreState(saved);
  ref.restoreState(savedRef);
  const t = tokens[tokens.length - 1];
  check(c.step(t), ref.step(t));
  c.reset();
  ref.reset();
  check(c.prefill(tokens), ref.prefill(tokens));
  return worst;
}

/**
 * A compiled runner refuses tokens outside the vocabulary (step and prefill) and its
 * state is untouched afterwards: the next step still equals the interpreter's.
 */
export function expectRejectsOutOfVocab(compile: (g: Graph) => ModelRunner, tol: number): void {
  const ck = randomCheckpoint({ dModel: 4, nLayer: 1, vocabSize: 5, dState: 2, dConv: 2, expand: 1, dInner: 4, dtRank: 1, normEps: 1e-5, tiedHead: true, convBias: true, projBias: false }, 7);
  const g = buildMambaGraph(ck, { mode: 'decode' });
  const c = compile(g);
  const ref = new InterpRunner(g);
  c.step(1);
  ref.step(1);
  expect(() => c.step(5)).toThrow(/vocabulary/);
  expect(() => c.prefill(Int32Array.of(1, 9))).toThrow(/vocabulary/);
  expect(relErr(c.step(2), ref.step(2))).toBeLessThanOrEqual(tol);
}

/** `ssmc eval --backend B` on the fixture scores the same tokens as the interpreter, bits per byte within 1e-5. */
export async function expectEvalMatchesInterpreter(backend: 'c' | 'opencl', fixture: string, maxBytes: number): Promise<void> {
  const args = ['eval', fixture, '--text', join(fixture, 'heldout.txt'), '--max-bytes', String(maxBytes), '--window', '512', '--json'];
  const interp = await runCli([...args, '--backend', 'interp']);
  const compiled = await runCli([...args, '--backend', backend]);
  expect(compiled.stderr).toBe('');
  expect(compiled.code).toBe(0);
  const a = JSON.parse(compiled.stdout) as { bits_per_token: number; tokens: number };
  const b = JSON.parse(interp.stdout) as { bits_per_token: number; tokens: number };
  expect(a.tokens).toBe(b.tokens);
  expect(Math.abs(a.bits_per_token - b.bits_per_token)).toBeLessThan(1e-5);
}
