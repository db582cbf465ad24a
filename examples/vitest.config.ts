import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'chaos.test.ts'],
    globalSetup: ['../packages/testkit/src/vitest/global-setup.ts'],
    // One file at a time: the README test packs, installs and compiles (CPU-heavy on 2 cores), which would
    // starve the chaos test's workers of the time its counts assume.
    maxWorkers: 1,
    testTimeout: 60_000,
    hookTimeout: 30_000,
  },
});
