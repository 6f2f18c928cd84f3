import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'managers/**/*.test.ts'],
    globalSetup: ['test/helpers/global-setup.ts'],
    // Forks, not threads: tests start servers, child processes and PGlite (WASM) instances, which
    // are better isolated per process. Two workers match the 2-core machines CI runs on.
    pool: 'forks',
    poolOptions: { forks: { minForks: 1, maxForks: 2 } },
    // Caps, not waits: tests wait for conditions. Generous so that a machine busy with a second
    // copy of the suite (or CI on other Node versions beside it) slows tests without failing them.
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
