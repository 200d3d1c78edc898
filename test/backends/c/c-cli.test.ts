// The C backend from the command line and the toolchain: `ssmc compile` (make, CMake,
// aarch64), `--backend c` for logits and eval against the interpreter, the build
// cache, compiler errors, and golden snapshots of the generated C.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compileC, compileCached } from '../../../src/backends/c/compile.ts';
import { emitC } from '../../../src/backends/c/emit.ts';
import { readPackedWeights } from '../../../src/backends/packed/index.ts';
import { buildDriver, buildWithCmake, buildWithMake, ToolchainError } from '../../../src/backends/c/toolchain.ts';
import { buildMambaGraph } from '../../../src/frontend/mamba-graph.ts';
import { PassManager } from '../../../src/passes/index.ts';
import { runCli } from '../../helpers/cli.ts';
import { fixturesDir } from '../../helpers/paths.ts';
import { randomCheckpoint } from '../../helpers/random-model.ts';
import { annotateCn4, expectEvalMatchesInterpreter, outDir, QEMU } from './helpers.ts';

const FIXTURE = join(fixturesDir(), 'mamba-shakespeare-s');
// --backend c compiles into the cache: keep it inside this run's temp folder.
process.env.SSMC_CACHE = outDir('cache-root');
const TINY = randomCheckpoint({ dModel: 4, nLayer: 1, vocabSize: 6, dState: 2, dConv: 3, expand: 2, dInner: 8, dtRank: 1, normEps: 1e-5, tiedHead: true, convBias: true, projBias: false }, 11);

describe('ssmc compile --target c', () => {
  it('writes a folder that builds with make (native and aarch64) and CMake (native, cross aarch64 with GCC and clang), and whose driver runs', () => {
    const dir = outDir('cli');
    const r = runCliSync(['compile', FIXTURE, '--target', 'c', '--threads', '2', '-o', dir]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    for (const f of ['model.c', 'model.h', 'ssmc_kernels.h', 'ssmc_runtime.c', 'ssmc_runtime.h', 'ssmc_driver.c', 'weights.bin', 'Makefile', 'CMakeLists.txt', 'README.md', 'manifest.json', 'ssmc_driver']) {
      expect(existsSync(join(dir, f)), f).toBe(true);
    }
    rmSync(join(dir, 'ssmc_driver'));
    buildWithMake(dir, { OPT: '-O1' });
    const logits = join(dir, 'l.f32');
    expect(run(join(dir, 'ssmc_driver'), ['logits', '--tokens', '71,82,69', '--out', logits]).status).toBe(0);
    expect(readFileSync(logits).length).toBe(3 * 256 * 4);
    const bench = run(join(dir, 'ssmc_driver'), ['bench', '--tokens', '8', '--prefill', '20', '--threads', '2']);
    const j = JSON.parse(bench.stdout) as Record<string, number>;
    expect(j.threads).toBe(2);
    expect(j.decode_tokens_per_s).toBeGreaterThan(0);
    expect(j.prefill_tokens_per_s).toBeGreaterThan(0);
    expect(j.prefill_last_tokens_per_s).toBeGreaterThan(0);
    expect(j.weight_bytes_per_token).toBeGreaterThan(1e6);
    expect(run(join(dir, 'ssmc_driver'), ['generate', '--tokens', '71,82', '--n', '5']).stdout).toMatch(/^\d+(,\d+){4}\n$/);
    expect(existsSync(buildWithCmake(dir, 'build', ['-DCMAKE_C_FLAGS=-O1']))).toBe(true);
    rmSync(join(dir, 'ssmc_driver'));
    buildWithMake(dir, { ARCH: 'aarch64', OPT: '-O1' });
    expect(readFileSync(join(dir, 'ssmc_driver')).subarray(18, 20)).toEqual(Buffer.from([0xb7, 0x00])); // e_machine = EM_AARCH64
    // CMake cross-compiling for aarch64 (the path an NDK toolchain file takes: no
    // -march=native, NEON instead of SIMDe), with GCC and with clang given a target triple
    // (as the NDK's toolchain file sets it), run under qemu: the same logits as native.
    const f32 = (file: string) => {
      const b = readFileSync(file);
      return new Float32Array(b.buffer, b.byteOffset, b.length / 4);
    };
    const native = f32(logits);
    const cross = [
      ['build-a64', ['-DCMAKE_C_COMPILER=aarch64-linux-gnu-gcc']],
      ['build-a64-clang', ['-DCMAKE_C_COMPILER=clang', '-DCMAKE_C_COMPILER_TARGET=aarch64-linux-gnu']],
    ] as const;
    for (const [build, compiler] of cross) {
      const a64 = buildWithCmake(dir, build, ['-DCMAKE_SYSTEM_NAME=Linux', '-DCMAKE_SYSTEM_PROCESSOR=aarch64', ...compiler, '-DCMAKE_C_FLAGS=-O1']);
      expect(readFileSync(a64).subarray(18, 20)).toEqual(Buffer.from([0xb7, 0x00]));
      const out = join(dir, `l-${build}.f32`);
      const ra = spawnSync(QEMU[0], [...QEMU.slice(1), a64, 'logits', '--weights', join(dir, 'weights.bin'), '--tokens', '71,82,69', '--out', out], { encoding: 'utf8' });
      expect(ra.status, ra.stderr).toBe(0);
      const got = f32(out);
      expect(got.length).toBe(native.length);
      let worst = 0;
      for (let i = 0; i < native.length; i++) worst = Math.max(worst, Math.abs(native[i] - got[i]) / (1 + Math.abs(native[i])));
      expect(worst, build).toBeLessThan(1e-4);
    }
  });

  it('compile and --backend c note C_n^4 rows of different n left interleaved (one segment per run) and name reorder-weights; not once reordered', () => {
    const prune = 'sparsify-cn4{method=magnitude pattern=adaptive sparsity=0.5}';
    const args = (pipeline: string) => ['compile', FIXTURE, '--target', 'c', '--no-build', '--calib', join(FIXTURE, 'calib.txt'), '--calib-tokens', '512', '--pipeline', pipeline, '-o', outDir('note')];
    const mixed = runCliSync(args(prune));
    expect(mixed.code).toBe(0);
    expect(mixed.stderr).toMatch(/note: \d+ C_n\^4 weights? \(@[^)]+\) hold rows of different n interleaved.*add reorder-weights/);
    const sorted = runCliSync(args(`${prune},reorder-weights`));
    expect(sorted.code).toBe(0);
    expect(sorted.stderr).not.toMatch(/note:/);
    // The commands that compile for a native backend say the same (logits, eval, run, bench).
    const od = outDir('note');
    mkdirSync(od, { recursive: true });
    const logits = runCliSync(['logits', FIXTURE, '--backend', 'c', '--tokens', '71,82', '--out', join(od, 'l.f32'), '--calib', join(FIXTURE, 'calib.txt'), '--calib-tokens', '512', '--pipeline', prune]);
    expect(logits.code).toBe(0);
    expect(logits.stderr).toMatch(/note: \d+ C_n\^4 weights? .*add reorder-weights/);
  });

  it('the weights read into memory (2 MiB pages where Linux offers them) or mapped (--mmap) give the same logits and checks', () => {
    const dir = outDir('load');
    compileC(buildMambaGraph(TINY), dir, { build: { opt: '-O0' } });
    const read = run(join(dir, 'ssmc_driver'), ['logits', '--tokens', '1,2,3', '--out', join(dir, 'read.f32')]);
    const mapped = run(join(dir, 'ssmc_driver'), ['logits', '--tokens', '1,2,3', '--out', join(dir, 'mapped.f32'), '--mmap']);
    expect([read.status, mapped.status]).toEqual([0, 0]);
    expect(readFileSync(join(dir, 'read.f32')).equals(readFileSync(join(dir, 'mapped.f32')))).toBe(true);
    // Both ways verify the checksum.
    const w = readFileSync(join(dir, 'weights.bin'));
    w[w.length - 70] ^= 0xff;
    writeFileSync(join(dir, 'weights.bin'), w);
    for (const extra of [[], ['--mmap']]) {
      const r = run(join(dir, 'ssmc_driver'), ['logits', '--tokens', '1', '--out', join(dir, 'x'), ...extra]);
      expect([r.status, r.stderr.includes('checksum mismatch')]).toEqual([1, true]);
    }
  });

  it('corrupt or mismatched weights are refused with a clear message', () => {
    const dir = outDir('corrupt');
    compileC(buildMambaGraph(TINY), dir, { build: { opt: '-O0' } });
    const w = readFileSync(join(dir, 'weights.bin'));
    w[w.length - 70] ^= 0xff;
    writeFileSync(join(dir, 'weights.bin'), w);
    const r = run(join(dir, 'ssmc_driver'), ['logits', '--tokens', '1', '--out', join(dir, 'x')]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/checksum mismatch/);
    // A valid file of another layout (f16 matrices) is refused by the table check.
    const other = outDir('other');
    compileC(buildMambaGraph(TINY), other, { dtype: 'f16', build: false });
    writeFileSync(join(dir, 'weights.bin'), readFileSync(join(other, 'weights.bin')));
    const r2 = run(join(dir, 'ssmc_driver'), ['logits', '--tokens', '1', '--out', join(dir, 'x')]);
    expect(r2.status).toBe(1);
    expect(r2.stderr).toMatch(/does not match model\.c: tensor 0 \(embedding\): dtype differs/);
    // A file of packed-format version 2 (n = 1 values laid out by group) is refused by its version.
    const v2 = readFileSync(join(other, 'weights.bin'));
    v2.writeUInt32LE(2, 8);
    writeFileSync(join(dir, 'weights.bin'), v2);
    const r3 = run(join(dir, 'ssmc_driver'), ['logits', '--tokens', '1', '--out', join(dir, 'x'), '--no-verify']);
    expect(r3.status).toBe(1);
    expect(r3.stderr).toMatch(/unsupported weights file version \(this runtime reads version 3; recompile the model\)/);
  });

  it('gather indices out of range are refused once, when the weights are bound, naming the tensor', () => {
    // reorder-weights leaves @*.order index tensors behind; the steps do not check them.
    const dir = outDir('bad-index');
    compileC(new PassManager('reorder-weights').run(annotateCn4(buildMambaGraph(TINY), 5)).graph, dir, { build: { opt: '-O0' } });
    expect(readFileSync(join(dir, 'model.c'), 'utf8')).not.toMatch(/SSMC_E_INDEX/);
    const good = run(join(dir, 'ssmc_driver'), ['logits', '--tokens', '1,2', '--out', join(dir, 'x')]);
    expect(good.status).toBe(0);
    const w = readFileSync(join(dir, 'weights.bin'));
    const tensors = readPackedWeights(w).tensors;
    const i = tensors.findIndex((t) => t.dtype === 'i32');
    expect(i).toBeGreaterThanOrEqual(0);
    const t = tensors[i];
    for (const [value, shown] of [[t.shape[0], t.shape[0]], [-1, -1]]) {
      const bad = Buffer.from(w);
      bad.writeInt32LE(value, t.offset + 4);
      writeFileSync(join(dir, 'weights.bin'), bad);
      const r = run(join(dir, 'ssmc_driver'), ['logits', '--tokens', '1', '--out', join(dir, 'x'), '--no-verify']);
      expect(r.status).toBe(1);
      expect(r.stderr).toContain(`tensor ${i} (${t.name}): index ${shown} at entry 1 is outside [0, ${t.shape[0]})`);
    }
  });

  it('a compiler error shows the compiler\'s message', () => {
    const dir = outDir('broken');
    compileC(buildMambaGraph(TINY), dir, { build: false });
    let err: unknown;
    try {
      buildDriver(dir, { cflags: ['-include', 'no_such_header_ssmc.h'] });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ToolchainError);
    expect((err as ToolchainError).kind).toBe('failed');
    expect((err as ToolchainError).code).toBe('E_TOOLCHAIN'); // the compiler's complaint, not an ssmc bug
    expect((err as ToolchainError).message).toMatch(/no_such_header_ssmc\.h: No such file or directory/);
    expect(() => buildDriver(dir, { cc: 'no-such-cc-ssmc' })).toThrow(/'no-such-cc-ssmc' was not found/);
    const r = runCliSync(['compile', FIXTURE, '--target', 'c', '-o', outDir('nocc')], { CC: 'no-such-cc-ssmc' });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no-such-cc-ssmc' was not found.*the sources are in/);
    const failing = runCliSync(['compile', FIXTURE, '--target', 'c', '-o', outDir('ccfalse')], { CC: 'false' });
    expect(failing.code).toBe(1);
    expect(failing.stderr).toMatch(/^ssmc: error\[E_TOOLCHAIN\]/);
  });
});

describe('--backend c', () => {
  it('ssmc eval --backend c matches --backend interp on the fixture (bits per byte within 1e-5)', async () => {
    await expectEvalMatchesInterpreter('c', FIXTURE, 3000);
  });

  it('ssmc logits --backend c matches the interpreter and reuses the cached build', async () => {
    const dir = outDir('l');
    mkdirSync(dir, { recursive: true });
    const args = (b: string) => ['logits', FIXTURE, '--tokens', '71,82,69,77', '--out', join(dir, `${b}.f32`), '--backend', b];
    expect((await runCli(args('c'))).code).toBe(0);
    expect((await runCli(args('interp'))).code).toBe(0);
    const a = new Float32Array(readFileSync(join(dir, 'c.f32')).buffer.slice(0));
    const b = new Float32Array(readFileSync(join(dir, 'interp.f32')).buffer.slice(0));
    let d = 0;
    let m = 0;
    b.forEach((v, i) => ((d = Math.max(d, Math.abs(a[i] - v))), (m = Math.max(m, Math.abs(v)))));
    expect(d / m).toBeLessThan(1e-5);
    const cache = outDir('cache');
    const first = compileCached(buildMambaGraph(TINY), { cacheDir: cache, build: { opt: '-O0' } });
    const again = compileCached(buildMambaGraph(TINY), { cacheDir: cache, build: { opt: '-O0' } });
    expect(first.cached).toBe(false);
    expect(again.cached).toBe(true);
    expect(again.dir).toBe(first.dir);
  });
});

describe('ssmc bench', () => {
  it('--json reports decode and prefill tokens/s, weight bytes per token and threads (c and interp)', async () => {
    const keys = ['decode_tokens_per_s', 'prefill_tokens_per_s', 'prefill_last_tokens_per_s', 'weight_bytes_per_token', 'threads'];
    const c = await runCli(['bench', FIXTURE, '--backend', 'c', '--threads', '2', '--tokens', '8', '--prefill', '16', '--dtype', 'f16', '--n', '2', '--method', 'magnitude', '--json']);
    expect(c.stderr).toBe('');
    const a = JSON.parse(c.stdout) as Record<string, number>;
    for (const k of keys) expect(a[k], k).toBeGreaterThan(0);
    expect(a.threads).toBe(2);
    const i = await runCli(['bench', FIXTURE, '--backend', 'interp', '--tokens', '2', '--prefill', '4', '--json']);
    const b = JSON.parse(i.stdout) as Record<string, number>;
    for (const k of keys) expect(b[k], k).toBeGreaterThan(0);
    // 2:4 in f16 reads (2 values x 2 bytes + 4 bits) / (4 x 4 bytes) of the dense f32 matrix bytes.
    expect(a.weight_bytes_per_token).toBeLessThan(0.5 * b.weight_bytes_per_token);
  });
});

describe('generated C (golden snapshots)', () => {
  it('a tiny dense model', async () => {
    const mod = emitC(buildMambaGraph(TINY), { chunk: 4 });
    await expect(mod.files.get('model.c')).toMatchFileSnapshot('__snapshots__/tiny-dense.model.c');
    await expect(mod.files.get('model.h')).toMatchFileSnapshot('__snapshots__/tiny-dense.model.h');
  });

  it('a tiny fused C_n^4 model with f16 weights', async () => {
    const { castWeights } = await import('../../../src/passes/cast-weights.ts');
    const g = new PassManager('fuse-ops').run(castWeights(annotateCn4(buildMambaGraph(TINY), 3), 'f16')).graph;
    const mod = emitC(g, { chunk: 4 });
    await expect(mod.files.get('model.c')).toMatchFileSnapshot('__snapshots__/tiny-fused-cn4-f16.model.c');
  });
});

function run(exe: string, args: string[]) {
  return spawnSyncUtf8(exe, args);
}

function spawnSyncUtf8(exe: string, args: string[], env?: Record<string, string>) {
  const r = spawnSync(exe, args, { encoding: 'utf8', env: { ...process.env, ...env } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The CLI in a child process (so CC overrides reach it). */
function runCliSync(args: string[], env: Record<string, string> = {}) {
  const r = spawnSyncUtf8(process.execPath, [join(import.meta.dirname, '../../../bin/ssmc.js'), ...args], { CI: 'true', ...env });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
