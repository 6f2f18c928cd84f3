/**
 * Store conformance: operator actions and housekeeping. Cancel takes only jobs not yet handed to a
 * vendor; requeue brings aborted jobs back with a fresh budget and reopens their submission; a
 * broken destination's waiting jobs are aborted (inside retry uploads too); retention drops a whole
 * partition only when all its jobs finished past the age, and uploads only once their jobs are gone.
 */
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { insertJobs } from '../../src/store/jobs.repository.ts';
import { abortWaitingOfDestination, cancelJobs, countMatchingByState, requeueAborted } from '../../src/store/jobs.maintenance.ts';
import { dropFinishedPartitions, PARTITION_WIDTH } from '../../src/store/job-partitions.ts';
import { markAborted, markAllSucceeded, scheduleRetries } from '../../src/store/jobs.transitions.ts';
import { readPayloadTexts } from '../../src/store/job-payloads.repository.ts';
import { deleteFinishedUploads, endUploadAttempt, finishSettledUploads, getUpload } from '../../src/store/uploads.repository.ts';
import { finalizeSubmissions, getSubmission, insertSubmission } from '../../src/api/store/submissions.repository.ts';
import { DEST, LEASE, OTHER_DEST, RETRY_NOW, events, storeFixture } from './store-fixture.ts';

/** "Finished more than minus a minute ago": every finished job, without waiting for the clock. */
const ANY_AGE = -60_000;

describe('store: maintenance', () => {
  const s = storeFixture();

  /** One job in each of waiting, executing, importing, succeeded, aborted; ids in that order. */
  async function oneOfEach(): Promise<Record<'waiting' | 'executing' | 'importing' | 'succeeded' | 'aborted', string>> {
    const { jobIds: [importing] } = await s.importing(1);
    await s.enqueue(3);
    const { uploadId, jobs } = await s.claim({ limit: 3 });
    const [executing, succeeded, aborted] = jobs.map((j) => j.id);
    const guard = { state: 'executing', uploadId } as const;
    await markAborted(s.t.db, guard, [{ jobId: aborted!, reason: 'bad email', code: 'record_rejected' }]);
    await scheduleRetries(s.t.db, guard, [{ jobId: succeeded!, error: 'x', code: 'timeout' }], RETRY_NOW, false);
    const again = await s.claim({ limit: 1 });
    await markAllSucceeded(s.t.db, { state: 'executing', uploadId: again.uploadId });
    const [waiting] = await s.enqueue(1);
    return { waiting: waiting!, executing: executing!, importing: importing!, succeeded: succeeded!, aborted: aborted! };
  }

  it('cancel takes waiting jobs only; the rest are reported by state', async () => {
    const ids = await oneOfEach();
    const all = { ids: Object.values(ids) };
    expect(await cancelJobs(s.t.db, all, 'withdrawn by the caller')).toEqual([ids.waiting]);
    const job = await s.job(ids.waiting);
    expect([job.state, job.reason, job.error_code]).toEqual(['cancelled', 'withdrawn by the caller', 'cancelled']);
    expect(await countMatchingByState(s.t.db, all)).toEqual({ waiting: 0, executing: 1, importing: 1, succeeded: 1, aborted: 1, cancelled: 1 });
    expect(await cancelJobs(s.t.db, all, 'again')).toEqual([]);
  });

  const selectorCases = [
    { name: 'destination', selector: { destinationId: OTHER_DEST }, matches: ['other'] },
    { name: 'reason substring, any case', selector: { reasonContains: 'BAD EM' }, matches: ['aborted'] },
    { name: 'finished window', selector: { finishedAfter: new Date(Date.now() - 3_600_000) }, matches: ['aborted', 'other'] },
    { name: 'finished before the epoch', selector: { finishedBefore: new Date(0) }, matches: [] },
  ];
  it.each(selectorCases)('requeue selects aborted jobs by $name', async ({ selector, matches }) => {
    const ids = await oneOfEach();
    const [other] = await s.enqueue(1, OTHER_DEST);
    const otherUpload = await s.claim({ destinationId: OTHER_DEST });
    await markAborted(s.t.db, { state: 'executing', uploadId: otherUpload.uploadId }, [{ jobId: other!, reason: 'nope', code: 'bad_event' }]);
    const named: Record<string, string> = { ...ids, other: other! };
    expect((await requeueAborted(s.t.db, selector)).sort()).toEqual(matches.map((m) => named[m]!).sort());
  });

  it('requeue gives a fresh budget, keeps the old reason as last_error, and reopens the submission', async () => {
    await insertSubmission(s.t.db, { id: 'sub-1', destinationId: DEST, keyId: null, jobCount: 1, callbackUrl: null });
    const [id] = await insertJobs(s.t.db, DEST, events(1), 'sub-1');
    const { uploadId } = await s.claim();
    await markAborted(s.t.db, { state: 'executing', uploadId }, [{ jobId: id!, reason: 'bad email', code: 'record_rejected' }]);
    const finalized = await s.t.db.transaction().execute((trx) => finalizeSubmissions(trx, 10, 5));
    expect(finalized.map((f) => [f.id, f.state])).toEqual([['sub-1', 'failed']]);

    expect(await requeueAborted(s.t.db, { submissionId: 'sub-1' })).toEqual([id]);
    const job = await s.job(id!);
    expect([job.state, job.attempts, job.reason, job.last_error, job.upload_id, job.finished_at]).toEqual(['waiting', 0, null, 'bad email', null, null]);
    expect((await getSubmission(s.t.db, 'sub-1'))!.state).toBe('pending');
    expect((await s.claim()).jobs.map((j) => [j.id, j.attempts])).toEqual([[id, 1]]);
  });

  it('a broken destination: its waiting jobs are aborted, in retry uploads too, and those uploads settle', async () => {
    await s.enqueue(2);
    const { uploadId, jobs } = await s.claim();
    await scheduleRetries(s.t.db, { state: 'executing', uploadId }, jobs.map((j) => ({ jobId: j.id, error: 'x', code: 'timeout' })), RETRY_NOW, true);
    await endUploadAttempt(s.t.db, { uploadId, owner: LEASE.owner, attempt: 1, state: 'retry_wait' });
    const [loose] = await s.enqueue(1);
    const [bystander] = await s.enqueue(1, OTHER_DEST);

    const result = await abortWaitingOfDestination(s.t.db, DEST, 'config: apiKey is missing', 2);
    expect(result).toEqual({ aborted: 2, uploadIds: expect.any(Array) });
    expect((await abortWaitingOfDestination(s.t.db, DEST, 'config: apiKey is missing', 10)).aborted).toBe(1);
    expect(await s.states([...jobs.map((j) => j.id), loose!])).toEqual(['aborted', 'aborted', 'aborted']);
    expect((await s.job(loose!)).error_code).toBe('config');
    expect((await s.job(bystander!)).state).toBe('waiting');
    await finishSettledUploads(s.t.db, [uploadId]);
    expect((await getUpload(s.t.db, uploadId))!.state).toBe('finished');
  });

  /** Moves the job id sequence to the start of partition `n` (1,000,000 ids each): later jobs land there. */
  async function nextIdsInPartition(n: number): Promise<void> {
    await sql`SELECT setval('br_job_ids', ${n * PARTITION_WIDTH})`.execute(s.t.db);
  }

  it('retention drops a partition whose jobs are all finished past the age, payloads and exceptions with it, and keeps any other whole', async () => {
    await s.enqueue(2);
    const first = await s.claim();
    const old = first.jobs.map((j) => j.id);
    await markAborted(s.t.db, { state: 'executing', uploadId: first.uploadId }, [{ jobId: old[0]!, reason: 'bad email', code: 'record_rejected' }]);
    await markAllSucceeded(s.t.db, { state: 'executing', uploadId: first.uploadId });
    await nextIdsInPartition(1);
    const ids = await oneOfEach();
    await nextIdsInPartition(2);

    expect(await dropFinishedPartitions(s.t.db, 3_600_000)).toBe(0);
    expect(await dropFinishedPartitions(s.t.db, ANY_AGE)).toBe(2);
    expect(await dropFinishedPartitions(s.t.db, ANY_AGE)).toBe(0);
    const kept = Object.values(ids);
    expect([...(await readPayloadTexts(s.t.db, [...old, ...kept])).keys()].sort()).toEqual([...kept].sort());
    expect(await countMatchingByState(s.t.db, { ids: old })).toEqual({ waiting: 0, executing: 0, importing: 0, succeeded: 0, aborted: 0, cancelled: 0 });
    expect(await countMatchingByState(s.t.db, { ids: kept })).toEqual({ waiting: 1, executing: 1, importing: 1, succeeded: 1, aborted: 1, cancelled: 0 });
    const { rows } = await sql<{ n: string }>`SELECT count(*) AS n FROM br_job_exceptions WHERE job_id = ANY(${old}::bigint[])`.execute(s.t.db);
    expect(Number(rows[0]!.n)).toBe(0);
  });

  it('retention removes a finished upload only once its jobs are gone', async () => {
    await s.enqueue(1);
    const { uploadId } = await s.claim();
    await markAllSucceeded(s.t.db, { state: 'executing', uploadId });
    await endUploadAttempt(s.t.db, { uploadId, owner: LEASE.owner, attempt: 1, state: 'finished' });
    await nextIdsInPartition(1);
    expect(await deleteFinishedUploads(s.t.db, ANY_AGE, 100)).toBe(0);
    expect(await dropFinishedPartitions(s.t.db, ANY_AGE)).toBe(1);
    expect(await deleteFinishedUploads(s.t.db, 3_600_000, 100)).toBe(0);
    expect(await deleteFinishedUploads(s.t.db, ANY_AGE, 100)).toBe(1);
    expect(await getUpload(s.t.db, uploadId)).toBeUndefined();
  });
});
