// ssmc_prefill_last (the head on the last token only, none for earlier chunks) against
// ssmc_prefill and the interpreter: the same last logits and the very same state, for
// dense and C_n^4, f32 and f16 models, prompts of 1 token, shorter than a chunk, a
// whole chunk and across chunk boundaries; native, under ASan + UBSan and on aarch64.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compileC } from '../../../src/backends/c/compile.ts';
import { CRunner } from '../../../src/backends/c/runner.ts';
import type { BuildOptions } from '../../../src/backends/c/toolchain.ts';
import { InterpRunner } from '../../../src/backends/interp/runner.ts';
import { buildMambaGraph } from '../../../src/frontend/mamba-graph.ts';
import type { Graph } from '../../../src/ir/graph.ts';
import { castWeights } from '../../../src/passes/cast-weights.ts';
import { PassManager } from '../../../src/passes/index.ts';
import { generate } from '../../../src/runtime/generate.ts';
import { randomCheckpoint } from '../../helpers/random-model.ts';
import { annotateCn4, outDir, QEMU, relErr } from './helpers.ts';

const TOL = 1e-5;
const CHUNK = 4;
const LENGTHS = [1, 3, 4, 5, 9];

function model(seed: number, cn4: boolean, half: boolean, fuse: boolean): Graph {
  const ck = randomCheckpoint({ dModel: 8, nLayer: 2, vocabSize: 19, dState: 3, dConv: 3, expand: 2, dInner: 16, dtRank: 2, normEps: 1e-5, tiedHead: true, convBias: true, projBias: seed % 2 === 0 }, seed);
  let g = buildMambaGraph(ck, { mode: 'decode' });
  if (cn4) g = annotateCn4(g, seed);
  if (half) g = castWeights(g, 'f16');
  return fuse ? new PassManager('fuse-ops').run(g).graph : g;
}

/** Runs the driver's `logits` command in a mode; returns the logits and the state after. */
function driverLogits(dir: string, build: BuildOptions, tokens: Int32Array, mode: 'prefill' | 'last'): { logits: Float32Array; state: Buffer } {
  const out = join(dir, `${mode}.f32`);
  const state = join(dir, `${mode}.state`);
  const exec = build.arch === 'aarch64' ? QEMU : [];
  const argv = [...exec, join(dir, build.output ?? 'ssmc_driver'), 'logits', '--tokens', [...tokens].join(','), '--out', out, '--mode', mode, '--state', state];
  const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8' });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  const bytes = readFileSync(out);
  return { logits: new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4), state: readFileSync(state) };
}

function expectLastMatches(graph: Graph, build: BuildOptions, seed: number): void {
  const dir = outDir('last');
  compileC(graph, dir, { chunk: CHUNK, build: { opt: '-O1', ...build } });
  const ref = new InterpRunner(graph);
  for (const n of LENGTHS) {
    const tokens = Int32Array.from({ length: n }, (_, i) => (seed * 5 + i * 7) % 19);
    const all = driverLogits(dir, build, tokens, 'prefill');
    const last = driverLogits(dir, build, tokens, 'last');
    ref.reset();
    const want = ref.prefill(tokens);
    expect(last.logits.length).toBe(19);
    expect(relErr(all.logits, want)).toBeLessThanOrEqual(TOL);
    expect(relErr(last.logits, all.logits.subarray((n - 1) * 19))).toBeLessThanOrEqual(TOL);
    expect(relErr(last.logits, want.subarray((n - 1) * 19))).toBeLessThanOrEqual(TOL);
    // The state update is the same code in both: bit for bit the same state.
    expect(last.state.equals(all.state), `state after ${n} tokens`).toBe(true);
  }
}

describe('C backend: prefill with the last token\'s logits only', () => {
  it('equals the all-logits prefill\'s last row and the interpreter, with the same state (dense and C_n^4, f32 and f16)', () => {
    let seed = 1;
    for (const cn4 of [false, true]) for (const half of [false, true]) expectLastMatches(model(seed++, cn4, half, false), {}, seed);
  });

  it('equals them on fused graphs and on the plain C path', () => {
    expectLastMatches(model(11, true, true, true), {}, 11);
    expectLastMatches(model(12, false, false, true), { simd: 'plain' }, 12);
  });

  it('runs clean under AddressSanitizer + UndefinedBehaviorSanitizer', () => {
    expectLastMatches(model(21, true, false, false), { sanitize: true, opt: '-O0', output: 'ssmc_driver.asan' }, 21);
  });

  it('equals them on an aarch64 build under qemu-user', () => {
    expectLastMatches(model(31, true, true, false), { arch: 'aarch64', output: 'ssmc_driver.aarch64' }, 31);
  });

  it('serve op 6 prefills with the last logits: the same logits and state as op 3 (prefill) gives', () => {
    const dir = outDir('last');
    compileC(model(51, true, false, false), dir, { chunk: CHUNK, build: { opt: '-O1' } });
    const tokens = [3, 1, 4, 1, 5, 9];
    const req = (op: number, payload: number[] = [], n = payload.length) => [op, n, ...payload];
    // reset, prefill last, save, reset, prefill (all), save, prefill last of nothing (refused), quit
    const input = Uint32Array.from([...req(1), ...req(6, tokens), ...req(4), ...req(1), ...req(3, tokens), ...req(4), ...req(6), ...req(0)]);
    const r = spawnSync(join(dir, 'ssmc_driver'), ['serve'], { input: Buffer.from(input.buffer) });
    expect(r.status).toBe(0);
    const out = new DataView(r.stdout.buffer, r.stdout.byteOffset, r.stdout.length);
    let off = 20; // hello: magic, status 0, vocab, state_floats, message length 0
    expect(out.getUint32(4, true)).toBe(0);
    const resp = (): { status: number; data: Float32Array } => {
      const status = out.getUint32(off, true);
      const count = out.getUint32(off + 4, true);
      const data = new Float32Array(r.stdout.buffer.slice(r.stdout.byteOffset + off + 8, r.stdout.byteOffset + off + 8 + 4 * count));
      off += 8 + 4 * count;
      return { status, data };
    };
    resp();
    const last = resp();
    const stateLast = resp();
    resp();
    const all = resp();
    const stateAll = resp();
    expect([last.status, all.status]).toEqual([0, 0]);
    expect(last.data.length).toBe(19);
    expect(relErr(last.data, all.data.subarray((tokens.length - 1) * 19))).toBeLessThanOrEqual(TOL);
    expect(Buffer.from(stateLast.data.buffer).equals(Buffer.from(stateAll.data.buffer))).toBe(true);
    expect(resp().status).toBe(4); // no last token: SSMC_E_ARG
    expect(off).toBe(r.stdout.length);
  });

  it('CRunner.prefillLast (what generate uses) equals prefill\'s last row, and generation equals the interpreter\'s', () => {
    const graph = model(51, true, false, false);
    const dir = outDir('last');
    compileC(graph, dir, { chunk: CHUNK, build: { opt: '-O1' } });
    const c = new CRunner(dir);
    const ref = new InterpRunner(graph);
    try {
      const tokens = Int32Array.from([3, 1, 4, 1, 5, 9, 2]);
      const last = c.prefillLast(tokens);
      c.reset();
      const all = c.prefill(tokens);
      expect(relErr(last, all.subarray((tokens.length - 1) * 19))).toBeLessThanOrEqual(TOL);
      const greedy = (r: CRunner | InterpRunner) => generate(r, tokens, { maxTokens: 12, temperature: 0 });
      expect(greedy(c)).toEqual(greedy(ref));
      expect(() => c.prefillLast(new Int32Array(0))).toThrow(/at least one token/);
    } finally {
      c.close();
      ref.close();
    }
  });

  it('refuses an empty prompt (no last token)', () => {
    const dir = outDir('last');
    compileC(model(41, false, false, false), dir, { chunk: CHUNK, build: { opt: '-O1' } });
    const r = spawnSync(join(dir, 'ssmc_driver'), ['generate', '--tokens', '', '--n', '2'], { encoding: 'utf8' });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/bad argument/);
  });
});
