import { SsmcError } from '../../src/errors.ts';

/** Runs `f` and returns the SsmcError it throws; any other outcome fails the test. */
export function thrown(f: () => unknown): SsmcError {
  try {
    f();
  } catch (e) {
    if (e instanceof SsmcError) return e;
    throw e;
  }
  throw new Error('expected an SsmcError');
}
