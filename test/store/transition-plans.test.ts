/**
 * Per-job transitions read their own upload's or import's exception rows, not the destination's,
 * when the statistics were taken before those rows existed (a partition analyzed while empty, the
 * state until the sweeper's next ANALYZE): a bulk destination keeps thousands of jobs `importing`
 * while each import's verdicts are written, so a transition that read all of them per job would
 * cost the import's jobs times the destination's. Counted with the server's statistics, as
 * test/store/claim-plans.test.ts does.
 */
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { markAborted, markAllSucceeded, markSucceeded, scheduleRetries } from '../../src/store/jobs.transitions.ts';
import { requiresServer } from '../helpers/database.ts';
import { exceptionRowsReadBy } from './rows-read.ts';
import { RETRY_NOW, storeFixture, type StoreFixture } from './store-fixture.ts';

/** Jobs importing elsewhere in the destination: what a transition must not read once per job. */
const OTHERS = 3_000;
/** Jobs of the import whose verdicts are written. */
const MINE = 200;

type Verdicts = (s: StoreFixture, guard: { state: 'importing'; importId: string; destinationId: string }, jobIds: string[]) => Promise<unknown>;

const cases: Array<{ name: string; write: Verdicts }> = [
  {
    name: 'markAborted',
    write: (s, guard, ids) => markAborted(s.t.db, guard, ids.map((jobId) => ({ jobId, reason: 'rejected', code: 'record_rejected' as const }))),
  },
  { name: 'markSucceeded with warnings', write: (s, guard, ids) => markSucceeded(s.t.db, guard, ids.map((jobId) => ({ jobId, warning: 'trimmed' }))) },
  {
    name: 'scheduleRetries',
    write: (s, guard, ids) => scheduleRetries(s.t.db, guard, ids.map((jobId) => ({ jobId, error: 'HTTP 503', code: 'vendor_unavailable' as const })), RETRY_NOW, false),
  },
  { name: 'markAllSucceeded', write: (s, guard) => markAllSucceeded(s.t.db, guard) },
];

describe.skipIf(requiresServer)('store: transitions planned before the exception rows existed (PostgreSQL server)', () => {
  const s = storeFixture();

  it.each(cases)(`$name under an import guard reads its ${MINE} jobs' rows, not the destination's ${OTHERS} others`, async ({ write }) => {
    await sql`ANALYZE br_job_exceptions`.execute(s.t.db); // analyzed empty
    await s.importing(OTHERS);
    const mine = await s.importing(MINE);
    const guard = { state: 'importing', importId: mine.importId, destinationId: 'dest-a' } as const;
    const read = await exceptionRowsReadBy(s.t.db, () => write(s, guard, mine.jobIds));
    expect(await s.states([mine.jobIds[0]!])).not.toEqual(['importing']);
    // A probe per job, or one pass over the import: a few × MINE. Per job over the destination: MINE × OTHERS.
    expect(read).toBeLessThan(OTHERS);
  });
});
