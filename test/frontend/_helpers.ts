// Shared helpers for the frontend importer/exporter tests.
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, expect } from 'vitest';
import { SsmcError, type ErrorCode } from '../../src/errors.ts';
import { type Checkpoint, type MambaConfig } from '../../src/frontend/checkpoint.ts';
import type { RawTensor } from '../../src/frontend/raw-tensor.ts';

import { fixturesDir, repoRoot, seed } from '../helpers/paths.ts';

export { fixturesDir, repoRoot };
export const FC_SEED = seed;

export const SHAKESPEARE = join(fixturesDir(), 'mamba-shakespeare-s');

const made: string[] = [];
afterAll(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

/** A fresh temporary folder, removed after the test file. */
export function tmpDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'ssmc-frontend-'));
  made.push(d);
  return d;
}

/** Runs fn, expects an SsmcError with `code` whose message contains every `parts`. */
export function expectError(fn: () => unknown, code: ErrorCode, ...parts: string[]): SsmcError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught, `expected ${code}`).toBeInstanceOf(SsmcError);
  const err = caught as SsmcError;
  expect(err.code, err.message).toBe(code);
  for (const p of parts) expect(err.message).toContain(p);
  return err;
}

/** path -> mtime + sha256 of every file under `root` (recursively). */
export function snapshot(root: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (p: string) => {
    const st = statSync(p);
    if (st.isDirectory()) {
      for (const n of readdirSync(p).sort()) walk(join(p, n));
    } else {
      out.set(p, `${st.mtimeMs} ${createHash('sha256').update(readFileSync(p)).digest('hex')}`);
    }
  };
  walk(root);
  return out;
}

export function bytesOf(t: RawTensor): Uint8Array {
  return new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
}

export function expectSameTensors(a: Checkpoint, b: Checkpoint): void {
  expect([...b.tensors.keys()].sort()).toEqual([...a.tensors.keys()].sort());
  for (const [name, t] of a.tensors) {
    const u = b.tensors.get(name)!;
    expect(u.dtype, name).toBe(t.dtype);
    expect(u.shape, name).toEqual(t.shape);
    expect(Buffer.compare(Buffer.from(bytesOf(u)), Buffer.from(bytesOf(t))), name).toBe(0);
  }
}

/** Small valid Mamba-1 configs (expand 2, as llama.cpp requires). */
export const smallConfig: fc.Arbitrary<MambaConfig> = fc
  .record({
    dModel: fc.integer({ min: 1, max: 24 }),
    nLayer: fc.integer({ min: 1, max: 3 }),
    vocabSize: fc.integer({ min: 1, max: 300 }),
    dState: fc.integer({ min: 1, max: 8 }),
    dConv: fc.integer({ min: 1, max: 5 }),
    dtRank: fc.integer({ min: 1, max: 6 }),
    tiedHead: fc.boolean(),
    convBias: fc.boolean(),
  })
  .map((r) => ({ ...r, expand: 2, dInner: 2 * r.dModel, normEps: 1e-5, projBias: false }));

export { randomCheckpoint } from '../helpers/random-model.ts';
