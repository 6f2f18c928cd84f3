/**
 * The set-up every router test file shares: one migrated database for the file (emptied before
 * each test) and the routers a test starts, stopped after it whatever its outcome.
 */
import { afterEach } from 'vitest';
import type { RouterOptions, Router } from '../../src/router/router.ts';
import type { ActiveDestination } from '../../src/router/types.ts';
import { databaseForFile } from '../helpers/file-database.ts';
import { startRouter } from '../helpers/router.ts';
import type { TestDatabase } from '../helpers/database.ts';

export interface RouterFixture {
  /** The file's database, blank at the start of each test. */
  readonly t: TestDatabase;
  /** Starts a router with short test timings on the file's database; stopped after the test. */
  start(destinations: ActiveDestination[], overrides?: Partial<RouterOptions>): Router;
  /** Stops every router this test started (a restart in the middle of a test, or a timed stop). */
  stopRouters(): Promise<void>;
}

export function routerFixture(): RouterFixture {
  const t = databaseForFile();
  const running: Router[] = [];
  const stopRouters = async () => {
    await Promise.all(running.splice(0).map((router) => router.stop()));
  };
  afterEach(stopRouters);
  return {
    t,
    start(destinations, overrides) {
      const router = startRouter(t.db, destinations, overrides);
      running.push(router);
      return router;
    },
    stopRouters,
  };
}
