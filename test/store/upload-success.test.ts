/**
 * Store conformance: recordUploadSucceeded, the one-statement end of an upload whose every job
 * succeeded. It applies only under endUploadAttempt's guard (uploading, owner, attempt), and then
 * does what endUploadAttempt + markAllSucceeded do together; otherwise it changes nothing.
 */
import { describe, expect, it } from 'vitest';
import { markAborted, scheduleRetries } from '../../src/store/jobs.transitions.ts';
import { endUploadAttempt, getUpload } from '../../src/store/uploads.repository.ts';
import { recordUploadSucceeded } from '../../src/store/upload-success.ts';
import { requiresServer } from '../helpers/database.ts';
import { whileAVerdictIsHeld } from './verdict-held.ts';
import { LEASE, RETRY_NOW, storeFixture } from './store-fixture.ts';

describe('store: recordUploadSucceeded', () => {
  const s = storeFixture();
  const record = (uploadId: string, over: Partial<{ owner: string; attempt: number }> = {}) =>
    recordUploadSucceeded(s.t.db, { uploadId, owner: LEASE.owner, attempt: 1, jobCount: 3, bytes: 99, ...over });

  it('ends the attempt and marks every job of the upload succeeded, counting them', async () => {
    const ids = await s.enqueue(3);
    const { uploadId } = await s.claim();
    expect(await record(uploadId)).toEqual({ recorded: true, succeeded: 3 });
    expect(await s.states(ids)).toEqual(['succeeded', 'succeeded', 'succeeded']);
    for (const id of ids) expect((await s.job(id)).finished_at).toBeInstanceOf(Date);
    const upload = (await getUpload(s.t.db, uploadId))!;
    expect([upload.state, upload.lease_owner, upload.job_count, Number(upload.bytes)]).toEqual(['finished', null, 3, 99]);
    expect(upload.finished_at).toBeInstanceOf(Date);
  });

  it('marks a retried job riding along with new range jobs succeeded too', async () => {
    const [first] = await s.enqueue(1);
    const { uploadId: failed } = await s.claim();
    await scheduleRetries(s.t.db, { state: 'executing', uploadId: failed }, [{ jobId: first!, error: 'HTTP 503', code: 'vendor_unavailable' }], RETRY_NOW, false);
    const fresh = await s.enqueue(2);
    const { uploadId, jobs } = await s.claim();
    expect(jobs.map((j) => j.id)).toEqual([first, ...fresh]);
    expect(await record(uploadId)).toEqual({ recorded: true, succeeded: 3 });
    expect(await s.states([first!, ...fresh])).toEqual(['succeeded', 'succeeded', 'succeeded']);
    expect((await s.job(first!)).attempts).toBe(2);
  });

  it('leaves a job already aborted in the upload aborted and does not count it', async () => {
    const ids = await s.enqueue(3);
    const { uploadId } = await s.claim();
    await markAborted(s.t.db, { state: 'executing', uploadId }, [{ jobId: ids[1]!, reason: 'bad row', code: 'record_rejected' }]);
    expect(await record(uploadId)).toEqual({ recorded: true, succeeded: 2 });
    expect(await s.states(ids)).toEqual(['succeeded', 'aborted', 'succeeded']);
  });

  // Skipped on PGlite, which serialises every connection into one session.
  it.skipIf(requiresServer)('waits for a verdict on a range job being written (PostgreSQL server), then leaves it alone and uncounted', async () => {
    const ids = await s.enqueue(3);
    const { uploadId } = await s.claim();
    const recorded = await whileAVerdictIsHeld(s, { state: 'executing', uploadId }, ids[2]!, () => record(uploadId));
    expect(recorded).toEqual({ recorded: true, succeeded: 2 });
    expect(await s.states(ids)).toEqual(['succeeded', 'succeeded', 'aborted']);
  });

  const guardCases = [
    { name: 'another owner', over: { owner: 'someone-else' }, before: undefined },
    { name: 'another attempt', over: { attempt: 2 }, before: undefined },
    { name: 'an attempt already ended', over: {}, before: 'finished' as const },
  ];
  it.each(guardCases)('changes nothing under $name', async ({ over, before }) => {
    const ids = await s.enqueue(2);
    const { uploadId } = await s.claim();
    if (before) await endUploadAttempt(s.t.db, { uploadId, owner: LEASE.owner, attempt: 1, state: 'retry_wait', retryAfterMs: 60_000 });
    const upload = await getUpload(s.t.db, uploadId);
    expect(await record(uploadId, over)).toEqual({ recorded: false, succeeded: 0 });
    expect(await s.states(ids)).toEqual(['executing', 'executing']);
    expect(await getUpload(s.t.db, uploadId)).toEqual(upload);
  });
});
