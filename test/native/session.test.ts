// The native session: one helper process serves every call; its private folder of arrays
// is removed and the helper ended when the process ends, also when nothing called close()
// (an error path) and when the CLI is interrupted; a failed command ends the helper with
// the error and the next call starts a fresh one.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SsmcError } from '../../src/errors.ts';
import { NativeKernels } from '../../src/native/kernels.ts';
import { repoRoot } from '../helpers/paths.ts';

const session = join(repoRoot, 'src/native/session.ts');
const kernels = join(repoRoot, 'src/native/kernels.ts');

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function gone(pid: number): Promise<boolean> {
  for (let i = 0; i < 100 && alive(pid); i++) await new Promise((r) => setTimeout(r, 20));
  return !alive(pid);
}

// Two report-error calls on a 2×4 layer (H = I), printing the helper's pid after each.
const twoCalls = `const k = new NativeKernels(); const I = new Float64Array(16); for (let i = 0; i < 4; i++) I[i * 5] = 1;
  const W = new Float64Array(8).fill(1); const pids = [];
  for (let i = 0; i < 2; i++) { k.layerError(W, new Float64Array(8), 2, 4, I); pids.push(k.session.helperPid); }`;

describe('native session', () => {
  it('serves every call from one helper; folder removed and helper ended at exit without close()', async () => {
    const code = `import { NativeKernels } from ${JSON.stringify(kernels)};
      ${twoCalls}
      console.log(JSON.stringify({ dir: k.session.dir, pids }));`;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { cwd: repoRoot, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const { dir, pids } = JSON.parse(r.stdout.trim()) as { dir: string; pids: number[] };
    expect(dir).toMatch(/ssmc-native-/);
    expect(pids[0]).toBeGreaterThan(0);
    expect(pids[1]).toBe(pids[0]);
    expect(existsSync(dir)).toBe(false);
    expect(await gone(pids[0])).toBe(true);
  });

  it('is removed, helper included, when the process is interrupted (SIGINT) while the session is open', async () => {
    // The CLI binary's SIGINT handler exits through process.exit, which runs the cleanup;
    // this script installs the same handler and waits to be interrupted.
    const code = `import { NativeKernels } from ${JSON.stringify(kernels)};
      process.once('SIGINT', () => process.exit(130));
      ${twoCalls}
      console.log(JSON.stringify({ dir: k.session.dir, pid: pids[1] })); setInterval(() => {}, 1000);`;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { cwd: repoRoot });
    const { dir, pid } = await new Promise<{ dir: string; pid: number }>((res) => child.stdout.once('data', (b: Buffer) => res(JSON.parse(b.toString().trim()))));
    expect(existsSync(dir)).toBe(true);
    expect(alive(pid)).toBe(true);
    const status = new Promise<number | null>((res) => child.once('exit', (c) => res(c)));
    child.kill('SIGINT');
    expect(await status).toBe(130);
    expect(existsSync(dir)).toBe(false);
    expect(await gone(pid)).toBe(true);
  });

  it('keeps no session folder for a session that never called (write only)', () => {
    const code = `import { NativeSession } from ${JSON.stringify(session)};
      const s = new NativeSession(); s.write('x', new Float64Array(1024)); console.log(s.dir);`;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { cwd: repoRoot, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(existsSync(r.stdout.trim())).toBe(false);
  });

  describe('a failed command', () => {
    const k = new NativeKernels();
    afterAll(() => k.close());
    const I = new Float64Array(16);
    for (let i = 0; i < 4; i++) I[i * 5] = 1;
    // Diagonal 1, off-diagonal 2: not positive definite even after dampening.
    const bad = new Float64Array(16).fill(2);
    for (let i = 0; i < 4; i++) bad[i * 5] = 1;
    const W = new Float64Array(8).fill(1);

    it('ends the helper with a typed error, and the next call starts a new one', async () => {
      const first = k.layerError(W, new Float64Array(8), 2, 4, I);
      const pid = k.session.helperPid!;
      expect(pid).toBeGreaterThan(0);
      let err: unknown;
      try {
        k.layerError(W, new Float64Array(8), 2, 4, bad);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(SsmcError);
      expect((err as SsmcError).code).toBe('E_PASS');
      expect(k.session.helperPid).toBeUndefined();
      expect(await gone(pid)).toBe(true);
      expect(k.layerError(W, new Float64Array(8), 2, 4, I)).toEqual(first);
      expect(k.session.helperPid).not.toBe(pid);
    });

    it('a helper killed between calls: the next call fails with E_INTERNAL, the one after starts a new helper', async () => {
      const first = k.layerError(W, new Float64Array(8), 2, 4, I);
      const pid = k.session.helperPid!;
      process.kill(pid, 'SIGKILL');
      expect(await gone(pid)).toBe(true);
      let err: unknown;
      try {
        k.layerError(W, new Float64Array(8), 2, 4, I);
      } catch (e) {
        err = e;
      }
      expect((err as SsmcError).code).toBe('E_INTERNAL');
      expect(k.session.helperPid).toBeUndefined();
      expect(k.layerError(W, new Float64Array(8), 2, 4, I)).toEqual(first);
    });
  });
});
