import { configDefaults, defineConfig } from 'vitest/config';

/**
 * Suites that take minutes or start whole processes: `npm run test:slow` (project "slow") runs
 * them, `npm test` (project "fast") leaves them out so it finishes within a few minutes on a
 * 2-core machine. CI runs both. A new file joins the slow suite by matching one of these, most
 * simply by its name ending in `.slow.test.ts`.
 */
const SLOW_SUITES = [
  '**/*.slow.test.ts',
  // three daemons killed with SIGKILL and a PostgreSQL restart on a private cluster
  'test/chaos/**/*.test.ts',
  // routers and daemons in child processes: kill -9, SIGTERM, two roles on one database
  'test/router/processes.test.ts',
  'test/api/daemon-processes.test.ts',
  // the embedded database shared between a daemon in a child process and clients
  'test/db/embedded.test.ts',
  // the dashboard in a real Chromium
  'test/ui/**/*.test.ts',
  // benchmark smoke runs
  'bench/**/*.test.ts',
];

export default defineConfig({
  test: {
    globalSetup: ['test/helpers/global-setup.ts'],
    // Forks, not threads: tests start servers, child processes and PGlite (WASM) instances, which
    // are better isolated per process. Two workers match the 2-core machines CI runs on.
    // Measured on such a machine, busy (issue 14): threads were no faster on eight mixed files
    // (39-51 s against 36-39 s) and would share process.env between files; three forks were within
    // the noise of two (16-22 s either way on nine files with CLI children).
    pool: 'forks',
    poolOptions: { forks: { minForks: 1, maxForks: 2 } },
    // Caps, not waits: tests wait for conditions. Generous so that a machine busy with a second
    // copy of the suite (or CI on other Node versions beside it) slows tests without failing them.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // `npx vitest run <file>` finds a file in either project; `--project fast|slow` picks one.
    projects: [
      {
        extends: true,
        test: {
          name: 'fast',
          include: ['test/**/*.test.ts', 'managers/**/*.test.ts'],
          exclude: [...configDefaults.exclude, ...SLOW_SUITES],
        },
      },
      {
        extends: true,
        test: { name: 'slow', include: SLOW_SUITES },
      },
    ],
  },
});
