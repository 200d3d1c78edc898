// `simd: auto` falls back to plain C where SIMDe is absent (a machine that never ran
// `npm run setup`), so `npm start` still builds there.
import { describe, expect, it } from 'vitest';
import { compileCommand, hasSimde } from '../../../src/backends/c/toolchain.ts';

describe('SIMD mode detection', () => {
  it('finds SIMDe where setup installed it, and not when the include path hides it', () => {
    expect(hasSimde(['cc'])).toBe(true);
    expect(hasSimde(['cc', '-nostdinc'])).toBe(false);
  });

  it('auto picks SIMDe or plain C accordingly on x86', () => {
    if (process.arch !== 'x64') return;
    expect(compileCommand({ cc: 'cc' })).toContain('-DSSMC_USE_SIMDE');
    expect(compileCommand({ cc: 'cc -nostdinc' })).toContain('-DSSMC_PLAIN_C');
  });
});
