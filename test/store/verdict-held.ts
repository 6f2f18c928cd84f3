/**
 * Runs `waiter` while a verdict on one range job of an upload is being written in another
 * transaction (which holds the upload row by a share lock, as the view's trigger and
 * `writeGuarded` do), waits until `waiter` is blocked on a lock, then commits the verdict. What
 * `waiter` counts must then leave that job out: it was committed before `waiter` could go on.
 */
import { sql } from 'kysely';
import { markAborted, type JobGuard } from '../../src/store/jobs.transitions.ts';
import { waitFor } from '../helpers/wait-for.ts';
import type { StoreFixture } from './store-fixture.ts';

export async function whileAVerdictIsHeld<T>(s: StoreFixture, guard: JobGuard, jobId: string, waiter: () => Promise<T>): Promise<T> {
  let waiting: Promise<T> | undefined;
  await s.t.db.transaction().execute(async (trx) => {
    const aborted = await markAborted(trx, guard, [{ jobId, reason: 'email is not valid', code: 'record_rejected' }]);
    if (aborted !== 1) throw new Error(`the verdict changed ${aborted} jobs, not 1`);
    waiting = waiter();
    // Surfaces a failure of the waiter now instead of as an unhandled rejection after the wait.
    waiting.catch(() => undefined);
    await waitFor(async () => {
      const { rows } = await sql<{ n: string }>`
        SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`.execute(s.t.db);
      return Number(rows[0]!.n) > 0;
    }, { message: 'the counting statement to wait for the verdict' });
  });
  return waiting!;
}
