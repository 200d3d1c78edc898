// The native session's private folder of arrays is removed when the process ends, also
// when nothing called close() (an error path) and when the CLI is interrupted.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../helpers/paths.ts';

const session = join(repoRoot, 'src/native/session.ts');

describe('native session folder', () => {
  it('is removed at exit without close()', () => {
    const code = `import { NativeSession } from ${JSON.stringify(session)};
      const s = new NativeSession(); s.write('x', new Float64Array(1024)); console.log(s.dir);`;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { cwd: repoRoot, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const dir = r.stdout.trim();
    expect(dir).toMatch(/ssmc-native-/);
    expect(existsSync(dir)).toBe(false);
  });

  it('is removed when the process is interrupted (SIGINT) while the session is open', async () => {
    // The CLI binary's SIGINT handler exits through process.exit, which runs the cleanup;
    // this script installs the same handler and waits to be interrupted.
    const code = `import { NativeSession } from ${JSON.stringify(session)};
      process.once('SIGINT', () => process.exit(130));
      const s = new NativeSession(); s.write('x', new Float64Array(1024)); console.log(s.dir); setInterval(() => {}, 1000);`;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { cwd: repoRoot });
    const dir = await new Promise<string>((res) => child.stdout.once('data', (b: Buffer) => res(b.toString().trim())));
    expect(existsSync(dir)).toBe(true);
    const status = new Promise<number | null>((res) => child.once('exit', (c) => res(c)));
    child.kill('SIGINT');
    expect(await status).toBe(130);
    expect(existsSync(dir)).toBe(false);
  });
});
