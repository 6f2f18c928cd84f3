/**
 * Operator actions over many jobs are set-based: cancel, the abort of a broken destination's
 * waiting jobs and requeue each read every exception row a bounded number of times, whatever the
 * number of jobs. Through the `br_jobs` view's INSTEAD OF trigger they were one PL/pgSQL call per
 * job, whose cached plan, made while the exception partition was empty, read that partition
 * sequentially on every call as the cancel filled it: cancelling 100,000 waiting jobs took 308 s,
 * with the destination's claims held off by the cancel's lock all that time.
 * Counted with the server's own statistics, as test/store/claim-plans.test.ts does.
 */
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { abortWaitingOfDestination, cancelJobs, requeueAborted } from '../../src/store/jobs.maintenance.ts';
import { requiresServer } from '../helpers/database.ts';
import { exceptionRowsReadBy } from './rows-read.ts';
import { scheduleRetries } from '../../src/store/jobs.transitions.ts';
import { DEST, RETRY_NOW, storeFixture } from './store-fixture.ts';

const JOBS = 3_000;

describe.skipIf(requiresServer)('store: operator actions over many jobs (PostgreSQL server)', () => {
  const s = storeFixture();

  async function waitingJobs(): Promise<string[]> {
    await sql`ANALYZE br_job_exceptions`.execute(s.t.db); // analyzed empty, as before a first cancel
    return s.enqueue(JOBS);
  }

  it(`cancel of ${JOBS} waiting jobs cancels each once and reads exception rows a bounded number of times`, async () => {
    const ids = await waitingJobs();
    let cancelled: string[] = [];
    const read = await exceptionRowsReadBy(s.t.db, async () => {
      cancelled = await cancelJobs(s.t.db, { destinationId: DEST }, 'withdrawn');
    });
    expect(cancelled.sort()).toEqual([...ids].sort());
    expect(await s.states([ids[0]!, ids[JOBS - 1]!])).toEqual(['cancelled', 'cancelled']);
    // One pass or one probe per job is a few JOBS; a pass per job would be JOBS × JOBS / 2.
    expect(read).toBeLessThan(4 * JOBS);
  });

  it(`the abort of a broken destination's ${JOBS} waiting jobs reads exception rows a bounded number of times`, async () => {
    await waitingJobs();
    let aborted = 0;
    const read = await exceptionRowsReadBy(s.t.db, async () => {
      aborted = (await abortWaitingOfDestination(s.t.db, DEST, 'config: url is missing', JOBS)).aborted;
    });
    expect(aborted).toBe(JOBS);
    expect(read).toBeLessThan(4 * JOBS);
  });

  it(`the abort of ${JOBS} job retries waiting, planned as if there were none, reads exception rows a bounded number of times`, async () => {
    const ids = await waitingJobs();
    const { uploadId } = await s.claim({ limit: JOBS });
    const failures = ids.map((jobId) => ({ jobId, error: 'HTTP 503', code: 'vendor_unavailable' as const }));
    await scheduleRetries(s.t.db, { state: 'executing', uploadId }, failures, { ...RETRY_NOW, minBackoffMs: 3_600_000, maxBackoffMs: 3_600_000 }, false);
    let aborted = 0;
    const read = await exceptionRowsReadBy(s.t.db, async () => {
      aborted = (await abortWaitingOfDestination(s.t.db, DEST, 'config: url is missing', JOBS)).aborted;
    });
    expect(aborted).toBe(JOBS);
    expect(await s.states([ids[0]!, ids[JOBS - 1]!])).toEqual(['aborted', 'aborted']);
    expect(read).toBeLessThan(4 * JOBS);
  });

  it(`requeue of ${JOBS} aborted jobs reads exception rows a bounded number of times`, async () => {
    await waitingJobs();
    await abortWaitingOfDestination(s.t.db, DEST, 'config: url is missing', JOBS);
    let requeued: string[] = [];
    const read = await exceptionRowsReadBy(s.t.db, async () => {
      requeued = await requeueAborted(s.t.db, { destinationId: DEST });
    });
    expect(requeued).toHaveLength(JOBS);
    expect(read).toBeLessThan(4 * JOBS);
  });
});
