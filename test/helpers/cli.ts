// Runs the CLI in-process with captured output (fast), or as a real process.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { main } from '../../src/cli/main.ts';
import { repoRoot } from './paths.ts';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export async function runCli(args: string[]): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const code = await main(args, { out: (s) => void (stdout += s), err: (s) => void (stderr += s), isTTY: false });
  return { code, stdout, stderr };
}

/** The installed binary, as a user runs it (checks the bin shim and real exit codes). */
export function runBin(args: string[]): CliResult {
  const r = spawnSync(process.execPath, [join(repoRoot, 'bin/ssmc.js'), ...args], { encoding: 'utf8', env: { ...process.env, CI: 'true' } });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}
