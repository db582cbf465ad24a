import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['src/vitest/global-setup.ts'],
    // Clusters are real processes: two files at a time is what 2 cores carry.
    maxWorkers: 2,
    testTimeout: 30_000,
    // No registry is reachable on CI, so testcontainers' ryuk image cannot be pulled: testkit labels, reaps
    // and sweeps its containers itself.
    env: {
      TESTCONTAINERS_RYUK_DISABLED: process.env.TESTCONTAINERS_RYUK_DISABLED ?? 'true',
    },
    hookTimeout: 30_000,
  },
});
