/**
 * Per-job transitions read their own upload's or import's exception rows, not the destination's,
 * when the statistics were taken before those rows existed (a partition analyzed while empty, the
 * state until the sweeper's next ANALYZE): a bulk destination keeps thousands of jobs `importing`
 * while each import's verdicts are written, so a transition that read all of them per job would
 * cost the import's jobs times the destination's. The same for the ends of an upload all
 * succeeded, which count their range's exception rows once per upload. Counted with the server's
 * statistics, as test/store/claim-plans.test.ts does.
 */
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { markAborted, markAllSucceeded, markSucceeded, scheduleRetries } from '../../src/store/jobs.transitions.ts';
import { recordAndClaimNext } from '../../src/router/claim.ts';
import { recordUploadSucceeded } from '../../src/store/upload-success.ts';
import { endUploadAttempt } from '../../src/store/uploads.repository.ts';
import { scriptedManager, testDestination } from '../helpers/scripted-manager.ts';
import { requiresServer } from '../helpers/database.ts';
import { exceptionRowsReadBy } from './rows-read.ts';
import { DEST, LEASE, RETRY_NOW, storeFixture, type StoreFixture } from './store-fixture.ts';

/** Jobs importing elsewhere in the destination: what a transition must not read once per job. */
const OTHERS = 3_000;
/** Jobs of the import whose verdicts are written. */
const MINE = 200;

/** `n` jobs importing, in imports of at most 1,000 (what one fixture claim takes). */
async function importingJobs(s: StoreFixture, n: number): Promise<void> {
  for (let done = 0; done < n; done += 1_000) await s.importing(Math.min(1_000, n - done));
}

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
    await importingJobs(s, OTHERS);
    const mine = await s.importing(MINE);
    const guard = { state: 'importing', importId: mine.importId, destinationId: 'dest-a' } as const;
    const read = await exceptionRowsReadBy(s.t.db, () => write(s, guard, mine.jobIds));
    expect(await s.states([mine.jobIds[0]!])).not.toEqual(['importing']);
    // A probe per job, or one pass over the import: a few × MINE. Per job over the destination: MINE × OTHERS.
    expect(read).toBeLessThan(OTHERS);
  });

  /** The ends of an upload all succeeded: each counts its range's exception rows once. */
  const upload = { attempt: 1, jobCount: MINE, bytes: 1 };
  const ends: Array<{ name: string; end: (s: StoreFixture, uploadId: string) => Promise<unknown> }> = [
    { name: 'recordUploadSucceeded', end: (s, uploadId) => recordUploadSucceeded(s.t.db, { ...upload, uploadId, destinationId: DEST, owner: LEASE.owner }) },
    {
      name: 'the claim function recording it',
      end: (s, uploadId) => recordAndClaimNext(
        s.routerContext(LEASE.owner),
        testDestination(scriptedManager({}).manager, DEST, { maxEventsPerUpload: MINE }),
        { ...upload, uploadId },
      ),
    },
    {
      name: 'endUploadAttempt, then markAllSucceeded',
      end: (s, uploadId) => s.t.db.transaction().execute(async (trx) => {
        await endUploadAttempt(trx, { uploadId, destinationId: DEST, owner: LEASE.owner, attempt: 1, state: 'finished', size: { jobCount: MINE, bytes: 1 } });
        await markAllSucceeded(trx, { state: 'executing', uploadId, destinationId: DEST });
      }),
    },
  ];

  it.each(ends)(`$name reads its own range's exception rows, not the destination's ${OTHERS} others`, async ({ end }) => {
    await sql`ANALYZE br_job_exceptions`.execute(s.t.db); // analyzed empty
    await importingJobs(s, OTHERS);
    const jobIds = await s.enqueue(MINE);
    const { uploadId } = await s.claim({ limit: MINE });
    const read = await exceptionRowsReadBy(s.t.db, () => end(s, uploadId));
    expect(await s.states([jobIds[0]!, jobIds.at(-1)!])).toEqual(['succeeded', 'succeeded']);
    // Its range holds no exception row; the destination's (destination_id, state) index holds OTHERS.
    expect(read).toBeLessThan(MINE);
  });
});
