import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Property tests print their seed on failure; CI fixes it through FC_SEED.
    env: { FC_SEED: process.env.FC_SEED ?? '42' },
  },
});
