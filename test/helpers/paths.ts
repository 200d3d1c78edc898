import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** Trained fixtures: ../shared/fixtures beside the repo, else the embedded copy. */
export function fixturesDir(): string {
  const shared = resolve(repoRoot, '../shared/fixtures');
  return existsSync(shared) ? shared : join(repoRoot, 'models');
}

/** Every fixture folder that carries reference outputs. */
export function fixtureNames(): string[] {
  const dir = fixturesDir();
  return readdirSync(dir).filter((n) => statSync(join(dir, n)).isDirectory() && existsSync(join(dir, n, 'reference.json')));
}

export const seed = Number(process.env.FC_SEED ?? 42);
