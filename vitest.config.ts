import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'managers/**/*.test.ts'],
    globalSetup: ['test/helpers/global-setup.ts'],
    // Forks, not threads: tests start servers, child processes and PGlite (WASM) instances, which
    // are better isolated per process. Two workers match the 2-core machines CI runs on.
    pool: 'forks',
    poolOptions: { forks: { minForks: 1, maxForks: 2 } },
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
