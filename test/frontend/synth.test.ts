import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { expectedTensors, parameterCount } from '../../src/frontend/checkpoint.ts';
import { loadCheckpoint } from '../../src/frontend/load.ts';
import { SHAPES, synthCheckpoint, synthConfig, synthTensors, writeSynthModel } from '../../src/frontend/synth.ts';
import { decodeF16Array } from '../../src/util/half.ts';
import { Prng } from '../../src/util/prng.ts';
import { bytesOf, expectError, expectSameTensors, FC_SEED, tmpDir } from './_helpers.ts';

const softplus = (x: number) => Math.log1p(Math.exp(x));

function sameBytes(a: ReturnType<typeof synthCheckpoint>, b: ReturnType<typeof synthCheckpoint>): boolean {
  for (const [name, t] of a.tensors) {
    if (!Buffer.from(bytesOf(t)).equals(Buffer.from(bytesOf(b.tensors.get(name)!)))) return false;
  }
  return true;
}

describe('synthetic checkpoints', () => {
  it('SHAPES: the released sizes with d_state 16, d_conv 4, expand 2, dt_rank ceil(d/16), tied head', () => {
    const want: Record<string, [number, number, number, number]> = {
      tiny: [64, 2, 256, 4], '130m': [768, 24, 50280, 48], '370m': [1024, 48, 50280, 64],
      '790m': [1536, 48, 50280, 96], '1.4b': [2048, 48, 50280, 128], '2.8b': [2560, 64, 50280, 160],
    };
    expect(Object.keys(SHAPES).sort()).toEqual(Object.keys(want).sort());
    for (const [name, [d, n, v, r]] of Object.entries(want)) {
      expect(synthConfig(name)).toEqual({ dModel: d, nLayer: n, vocabSize: v, dState: 16, dConv: 4, expand: 2, dInner: 2 * d, dtRank: r, normEps: 1e-5, tiedHead: true, convBias: true, projBias: false });
    }
    // the published parameter counts (tied embedding counted once)
    expect(parameterCount(synthConfig('130m'))).toBeGreaterThan(129e6);
    expect(parameterCount(synthConfig('130m'))).toBeLessThan(130e6);
    expect(parameterCount(synthConfig('2.8b'))).toBeGreaterThan(2.7e9);
    expect(parameterCount(synthConfig('2.8b'))).toBeLessThan(2.8e9);
    expectError(() => synthConfig('7b'), 'E_ARG', '130m');
  });

  it('is deterministic: same seed, same bytes; another seed, other bytes', () => {
    const a = synthCheckpoint('tiny', { seed: 1 });
    const b = synthCheckpoint('tiny', { seed: 1 });
    const c = synthCheckpoint('tiny', { seed: 2 });
    expect(sameBytes(a, b)).toBe(true);
    expect(sameBytes(a, c)).toBe(false);
    for (const name of ['embedding', 'l0.in_proj', 'l1.x_proj', 'l1.dt_proj.bias', 'l0.out_proj', 'l0.conv.weight']) {
      expect(Buffer.from(bytesOf(a.tensors.get(name)!)).equals(Buffer.from(bytesOf(c.tensors.get(name)!))), name).toBe(false);
    }
    expect(a.format).toBe('synthetic');
  });

  it('each tensor is independent of generation order', () => {
    const st = synthTensors('tiny', { seed: 9 });
    const forward = st.names.map((n) => st.generate(n));
    const backward = [...st.names].reverse().map((n) => st.generate(n)).reverse();
    forward.forEach((t, i) => expect(Buffer.from(bytesOf(t)).equals(Buffer.from(bytesOf(backward[i])))).toBe(true));
  });

  it('has the reference initialisation', () => {
    const ck = synthCheckpoint('tiny', { seed: 5 });
    const { dInner: e, dModel: d, dtRank: r, nLayer, dState: s } = ck.config;
    const f = (n: string) => ck.tensors.get(n)!.data as Float32Array;
    for (let l = 0; l < nLayer; l++) {
      const A = f(`l${l}.A`);
      for (let c = 0; c < e; c++) {
        for (let j = 0; j < s; j++) {
          const a = A[c * s + j];
          expect(a).toBe(Math.fround(-Math.exp(Math.fround(Math.log(j + 1)))));
          expect(Math.abs(a + (j + 1))).toBeLessThanOrEqual((j + 1) * 2 ** -23);
        }
      }
      expect(A[0]).toBe(-1);
      expect(A[15]).toBe(-16);
      expect(f(`l${l}.D`).every((x) => x === 1)).toBe(true);
      expect(f(`l${l}.norm`).every((x) => x === 1)).toBe(true);
      const dtb = f(`l${l}.dt_proj.bias`);
      let lo = Infinity;
      let hi = -Infinity;
      for (const b of dtb) {
        const dt = softplus(b);
        lo = Math.min(lo, dt);
        hi = Math.max(hi, dt);
      }
      expect(lo).toBeGreaterThanOrEqual(0.001 * (1 - 1e-5));
      expect(hi).toBeLessThanOrEqual(0.1 * (1 + 1e-5));
      expect(hi / lo).toBeGreaterThan(20); // spread over the log-uniform range
      const bound = (t: Float32Array, b: number) => t.every((x) => Math.abs(x) <= b * (1 + 1e-6));
      expect(bound(f(`l${l}.dt_proj`), r ** -0.5)).toBe(true);
      expect(bound(f(`l${l}.in_proj`), 1 / Math.sqrt(d))).toBe(true);
      expect(bound(f(`l${l}.x_proj`), 1 / Math.sqrt(e))).toBe(true);
      expect(bound(f(`l${l}.conv.weight`), 0.5)).toBe(true);
      expect(bound(f(`l${l}.conv.bias`), 0.5)).toBe(true);
      expect(bound(f(`l${l}.out_proj`), 1 / Math.sqrt(e) / Math.sqrt(nLayer))).toBe(true);
      // uniform, not concentrated: the max magnitude approaches the bound
      expect(Math.max(...f(`l${l}.in_proj`).map(Math.abs))).toBeGreaterThan(0.95 / Math.sqrt(d));
    }
    expect(f('norm_f').every((x) => x === 1)).toBe(true);
    const emb = f('embedding');
    let sum = 0;
    let sq = 0;
    for (const x of emb) {
      sum += x;
      sq += x * x;
    }
    const mean = sum / emb.length;
    const std = Math.sqrt(sq / emb.length - mean * mean);
    expect(Math.abs(mean)).toBeLessThan(0.001);
    expect(std).toBeGreaterThan(0.0195);
    expect(std).toBeLessThan(0.0205);
    expect(ck.tensors.has('lm_head')).toBe(false);
  });

  it('f16 option stores 16-bit patterns (A stays f32) that decode to the f32 values', () => {
    const a = synthCheckpoint('tiny', { seed: 4 });
    const h = synthCheckpoint('tiny', { seed: 4, dtype: 'f16' });
    for (const [name, t] of h.tensors) {
      if (name.endsWith('.A')) {
        expect(t.dtype).toBe('f32');
        continue;
      }
      expect(t.dtype, name).toBe('f16');
      const back = decodeF16Array(t.data as Uint16Array);
      const ref = a.tensors.get(name)!.data as Float32Array;
      for (let i = 0; i < ref.length; i += 7) expect(Math.abs(back[i] - ref[i])).toBeLessThanOrEqual(Math.abs(ref[i]) * 2 ** -11 + 2 ** -24);
    }
  });

  it('generates 130m in seconds', () => {
    const t0 = performance.now();
    const ck = synthCheckpoint('130m', { seed: 0 });
    const ms = performance.now() - t0;
    let n = 0;
    for (const t of ck.tensors.values()) n += t.data.length;
    expect(n).toBe(parameterCount(ck.config));
    expect(ms).toBeLessThan(30_000);
  });

  it('writeSynthModel streams to HF and GGUF, which load back to the same checkpoint', () => {
    const ref = synthCheckpoint('tiny', { seed: 11 });
    const hf = writeSynthModel('tiny', join(tmpDir(), 'hf'), { seed: 11, format: 'hf' });
    expectSameTensors(ref, loadCheckpoint(hf));
    const dir = tmpDir();
    const g = writeSynthModel('tiny', dir, { seed: 11, format: 'gguf' });
    expect(g).toBe(join(dir, 'model.gguf'));
    const back = loadCheckpoint(g);
    expectSameTensors(ref, back);
    expect(back.config).toEqual(ref.config);
    const g16 = writeSynthModel('tiny', join(dir, 'h.gguf'), { seed: 11, format: 'gguf', dtype: 'f16' });
    expect(loadCheckpoint(g16).tensors.get('l0.in_proj')!.dtype).toBe('f16');
  });

  it('rejects bad options', () => {
    expectError(() => synthTensors('tiny', { seed: 1.5 }), 'E_ARG', 'seed');
    expectError(() => synthTensors('tiny', { dtype: 'bf16' as 'f16' }), 'E_ARG', 'dtype');
    expectError(() => synthTensors('tiny').generate('l7.norm'), 'E_MISSING_TENSOR', 'l7.norm');
  });
});

describe('Prng', () => {
  it('is reproducible per (seed, stream) and streams differ', () => {
    fc.assert(
      fc.property(fc.integer(), fc.string(), (seed, stream) => {
        const a = new Prng(seed, stream);
        const b = new Prng(seed, stream);
        const c = new Prng(seed, stream + 'x');
        const xs = Array.from({ length: 8 }, () => a.nextU32());
        expect(Array.from({ length: 8 }, () => b.nextU32())).toEqual(xs);
        expect(Array.from({ length: 8 }, () => c.nextU32())).not.toEqual(xs);
      }),
      { seed: FC_SEED, numRuns: 100 },
    );
  });

  it('uniform and normal have the right moments', () => {
    const p = new Prng(123);
    const u = p.fillUniform(new Float32Array(200_000), -1, 1);
    const n = p.fillNormal(new Float32Array(200_001), 0, 1);
    const mean = (x: Float32Array) => x.reduce((a, b) => a + b, 0) / x.length;
    const varOf = (x: Float32Array) => {
      const m = mean(x);
      return x.reduce((a, b) => a + (b - m) ** 2, 0) / x.length;
    };
    expect(Math.abs(mean(u))).toBeLessThan(0.01);
    expect(varOf(u)).toBeCloseTo(1 / 3, 2);
    expect(u.every((x) => x >= -1 && x < 1)).toBe(true);
    expect(Math.abs(mean(n))).toBeLessThan(0.01);
    expect(varOf(n)).toBeCloseTo(1, 1);
    for (let i = 0; i < 1000; i++) {
      const f = p.float();
      expect(f >= 0 && f < 1).toBe(true);
    }
  });

  it('names every synthetic tensor', () => {
    const c = synthConfig('tiny');
    expect(synthTensors('tiny').names).toEqual(expectedTensors(c).map(([n]) => n));
  });
});
