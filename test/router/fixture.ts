/**
 * The set-up every router test file shares: one migrated database for the file (emptied before
 * each test) and the routers a test starts, stopped after it whatever its outcome.
 */
import { afterEach } from 'vitest';
import type { Kysely } from 'kysely';
import type { Database } from '../../src/db/schema.ts';
import type { RouterOptions, Router } from '../../src/router/router.ts';
import type { ActiveDestination } from '../../src/router/types.ts';
import { databaseForFile } from '../helpers/file-database.ts';
import { startRouter } from '../helpers/router.ts';
import type { TestDatabase } from '../helpers/database.ts';

export interface RouterFixture {
  /** The file's database, blank at the start of each test. */
  readonly t: TestDatabase;
  /**
   * Starts a router with short test timings, stopped after the test. `db` is another connection
   * to the file's database, for a router that plays a second process.
   */
  start(destinations: ActiveDestination[], overrides?: Partial<RouterOptions>, db?: Kysely<Database>): Router;
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
    start(destinations, overrides, db = t.db) {
      const router = startRouter(db, destinations, overrides);
      running.push(router);
      return router;
    },
    stopRouters,
  };
}
