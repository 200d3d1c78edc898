// Builds the native helper (native/*.c) with the host C compiler, once per source hash
// and compiler, into the ssmc cache (like compiled C models): `<cache>/native-<hash>/`.
// -march=native is used when the compiler accepts it (f64 FMA, wide vectors); the
// binary is then only valid on this machine, which is fine for a cache.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { cacheRoot } from '../backends/c/compile.ts';
import { defaultCompiler, toolExists } from '../backends/c/toolchain.ts';
import { SsmcError } from '../errors.ts';

/** Where the C sources live (the repository's `native/`). */
export const NATIVE_SOURCE_DIR = resolve(import.meta.dirname, '../../native');

/** The native helper cannot be used: no compiler, or the build failed. */
export class NativeUnavailableError extends SsmcError {
  constructor(message: string) {
    super('E_UNSUPPORTED', message);
    this.name = 'NativeUnavailableError';
  }
}

let built: string | undefined;
let failure: string | undefined;

function sources(): string[] {
  return readdirSync(NATIVE_SOURCE_DIR)
    .filter((f) => /\.(c|h|inc)$/.test(f))
    .sort();
}

/** Path of the built helper; builds it on first use. NativeUnavailableError when it cannot. */
export function nativeBinary(): string {
  if (built) return built;
  if (failure) throw new NativeUnavailableError(failure);
  const cc = (process.env.CC ?? defaultCompiler('host')).trim().split(/\s+/);
  if (!toolExists(cc.join(' '))) {
    failure = `native helper: no C compiler ('${cc.join(' ')}'; install one or set CC)`;
    throw new NativeUnavailableError(failure);
  }
  const files = sources();
  const h = createHash('sha256');
  for (const f of files) h.update(f).update('\0').update(readFileSync(join(NATIVE_SOURCE_DIR, f))).update('\0');
  h.update(cc.join(' ')).update(process.arch);
  const dir = join(cacheRoot(), `native-${h.digest('hex').slice(0, 20)}`);
  const exe = join(dir, 'ssmc-native');
  if (existsSync(exe)) return (built = exe);
  mkdirSync(dir, { recursive: true });
  const tmp = `${exe}.${process.pid}.tmp`;
  const cfiles = files.filter((f) => f.endsWith('.c')).map((f) => join(NATIVE_SOURCE_DIR, f));
  let last = '';
  for (const arch of [['-march=native'], []]) {
    const r = spawnSync(cc[0], [...cc.slice(1), '-O3', ...arch, '-std=gnu11', '-o', tmp, ...cfiles, '-lm', '-lpthread'], { encoding: 'utf8', maxBuffer: 16 << 20 });
    if (!r.error && r.status === 0) {
      renameSync(tmp, exe);
      return (built = exe);
    }
    last = `${r.error?.message ?? ''}${r.stderr ?? ''}`.trim();
  }
  failure = `native helper: the C compiler failed on ${dirname(cfiles[0])}:\n${last.slice(-2000)}`;
  throw new NativeUnavailableError(failure);
}

/** True when the native helper is built or can be built here. */
export function nativeAvailable(): boolean {
  try {
    nativeBinary();
    return true;
  } catch (e) {
    if (e instanceof NativeUnavailableError) return false;
    throw e;
  }
}
