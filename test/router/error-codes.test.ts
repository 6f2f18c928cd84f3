/**
 * Failure codes travel from the manager to the database: a job keeps the stable code and the
 * vendor's own code of its last failure, an upload and an import keep the code of theirs, and an
 * import whose vendor left outcomes unconfirmed says how many on its own record.
 */
import { describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { insertJobs } from '../../src/store/jobs.repository.ts';
import type { JobOutcome } from '../../src/manager/contract.ts';
import { PermanentError, RetryableError } from '../../src/manager/errors.ts';
import { ERROR_CODES } from '../../src/manager/error-codes.ts';
import type { TestDatabase } from '../helpers/database.ts';
import { sampleEvents } from '../helpers/router.ts';
import { scriptedManager, testDestination } from '../helpers/scripted-manager.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { routerFixture } from './fixture.ts';

interface JobCodes {
  id: string;
  state: string;
  error_code: string | null;
  vendor_code: string | null;
  reason: string | null;
}

async function jobCodes(t: TestDatabase): Promise<JobCodes[]> {
  const { rows } = await sql<JobCodes>`SELECT id, state, error_code, vendor_code, reason FROM br_jobs ORDER BY id`.execute(t.db);
  return rows;
}

const allFinal = (t: TestDatabase) => async () => (await jobCodes(t)).every((j) => ['succeeded', 'aborted', 'cancelled'].includes(j.state));

describe('failure codes', () => {
  const { t, start } = routerFixture();

  it('keeps the code and vendor code of per-job outcomes, and a default code for the kind when none is given', async () => {
    const { manager } = scriptedManager({
      upload: async (batch) => ({
        outcomes: batch.jobIds.map((jobId, i): JobOutcome =>
          i === 0 ? { jobId, kind: 'aborted', reason: 'invalid email', code: ERROR_CODES.recordRejected, vendorCode: '1004' }
            : i === 1 ? { jobId, kind: 'aborted', reason: 'rejected, no code given' }
              : { jobId, kind: 'succeeded' }),
      }),
    });
    await insertJobs(t.db, 'dest-1', sampleEvents(3));
    start([testDestination(manager)]);
    await waitFor(allFinal(t), { message: 'jobs final' });
    const jobs = await jobCodes(t);
    expect(jobs.map((j) => [j.state, j.error_code, j.vendor_code])).toEqual([
      ['aborted', 'record_rejected', '1004'],
      ['aborted', 'record_rejected', null],
      ['succeeded', null, null],
    ]);
    // A bad event is coded as such, not as a vendor rejection.
    await insertJobs(t.db, 'dest-1', [JSON.stringify({ id: 'bad-1', bad: true })]);
    await waitFor(allFinal(t), { message: 'bad event final' });
    expect((await jobCodes(t)).at(-1)).toMatchObject({ state: 'aborted', error_code: 'bad_event' });
  });

  it('records the code of a whole-upload failure on the upload and on each of its jobs', async () => {
    let calls = 0;
    const { manager } = scriptedManager({
      upload: async (batch) => {
        calls += 1;
        if (calls === 1) throw new RetryableError('vendor answered 429', { code: ERROR_CODES.rateLimited, vendorCode: '429', retryAfterMs: 1 });
        throw new PermanentError('vendor refused the file', { vendorCode: 'FILE_REJECTED' });
      },
    });
    await insertJobs(t.db, 'dest-1', sampleEvents(2));
    start([testDestination(manager, 'dest-1', { minBackoffMs: 1, maxBackoffMs: 2 })]);
    await waitFor(allFinal(t), { message: 'jobs final' });
    expect((await jobCodes(t)).map((j) => [j.state, j.error_code, j.vendor_code])).toEqual([
      ['aborted', 'record_rejected', 'FILE_REJECTED'],
      ['aborted', 'record_rejected', 'FILE_REJECTED'],
    ]);
    const { rows } = await sql<{ error_code: string }>`SELECT error_code FROM br_uploads`.execute(t.db);
    expect(rows).toEqual([{ error_code: 'record_rejected' }]);
  });

  it('counts unconfirmed outcomes on the import record', async () => {
    const { manager } = scriptedManager({
      upload: async (batch) => ({ outcomes: [], imports: [{ handle: { vendorId: 'x' }, jobs: batch.jobIds.map((jobId) => ({ jobId })) }] }),
      poll: async () => ({ status: 'completed', hasRecordFailures: true }),
      getUploadStats: async (_open, jobs) =>
        jobs.map((job, i): JobOutcome =>
          i < 2
            ? { jobId: job.jobId, kind: 'aborted', reason: 'vendor counted 3 failures but listed 1; outcome unconfirmed', code: ERROR_CODES.outcomeUnconfirmed }
            : { jobId: job.jobId, kind: 'aborted', reason: 'invalid email', code: ERROR_CODES.recordRejected }),
    });
    await insertJobs(t.db, 'dest-1', sampleEvents(3));
    start([testDestination(manager, 'dest-1', { pollIntervalMs: 10 })]);
    await waitFor(allFinal(t), { message: 'jobs final' });
    const { rows } = await sql<{ unconfirmed_jobs: number; state: string }>`SELECT state, unconfirmed_jobs FROM br_imports`.execute(t.db);
    expect(rows).toEqual([{ state: 'completed', unconfirmed_jobs: 2 }]);
    expect((await jobCodes(t)).map((j) => j.error_code)).toEqual(['outcome_unconfirmed', 'outcome_unconfirmed', 'record_rejected']);
  });
});
