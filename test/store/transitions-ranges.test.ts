/**
 * Store conformance: transitions under an upload guard when the upload holds both kinds of job, a
 * plain job of its claimed range and a retry riding along, and when a range job has left the
 * upload or its range has already gone final. Each job must end exactly as if it were alone.
 */
import { describe, expect, it } from 'vitest';
import {
  markAborted,
  markAllSucceeded,
  markSucceeded,
  scheduleRetries,
  snooze,
  type JobGuard,
} from '../../src/store/jobs.transitions.ts';
import { requiresServer } from '../helpers/database.ts';
import { whileAVerdictIsHeld } from './verdict-held.ts';
import { OTHER_DEST, RETRY_NOW, storeFixture, type StoreFixture } from './store-fixture.ts';

const failure = { code: 'vendor_unavailable' as const, vendorCode: 'E503' };

/** An upload holding a retry (failed once in an earlier upload) and two new jobs of its range. */
async function mixedUpload(s: StoreFixture) {
  const [retried] = await s.enqueue(1);
  const first = await s.claim();
  await scheduleRetries(s.t.db, { state: 'executing', uploadId: first.uploadId }, [{ jobId: retried!, error: 'timeout', ...failure }], RETRY_NOW, false);
  const fresh = await s.enqueue(2);
  const { uploadId } = await s.claim();
  const guard: JobGuard = { state: 'executing', uploadId };
  return { retried: retried!, fresh, uploadId, guard, all: [retried!, ...fresh] };
}

describe('store: transitions over range jobs and retries in one upload', () => {
  const s = storeFixture();

  it('scheduleRetries: each job keeps its own attempts and first failure', async () => {
    const { retried, fresh, guard, all } = await mixedUpload(s);
    const firstFailure = (await s.job(retried)).first_failed_at;
    const result = await scheduleRetries(s.t.db, guard, all.map((jobId) => ({ jobId, error: 'HTTP 503', ...failure })), RETRY_NOW, false);
    expect(result).toEqual({ retried: 3, aborted: 0 });
    const old = await s.job(retried);
    expect([old.state, old.attempts, old.upload_id, old.last_error, old.first_failed_at]).toEqual(['waiting', 2, null, 'HTTP 503', firstFailure]);
    for (const id of fresh) {
      const job = await s.job(id);
      expect([job.state, job.attempts, job.upload_id, job.vendor_code]).toEqual(['waiting', 1, null, 'E503']);
      expect(job.first_failed_at).toBeInstanceOf(Date);
    }
  });

  it('scheduleRetries gives up on the job whose budget is spent and retries the others', async () => {
    const { retried, fresh, uploadId, guard, all } = await mixedUpload(s);
    const twoAttempts = { maxAttempts: 2, retryWindowMs: 0, minBackoffMs: 0, maxBackoffMs: 0 };
    const result = await scheduleRetries(s.t.db, guard, all.map((jobId) => ({ jobId, error: 'HTTP 503', ...failure })), twoAttempts, false);
    expect(result).toEqual({ retried: 2, aborted: 1 });
    const gaveUp = await s.job(retried);
    expect([gaveUp.state, gaveUp.upload_id]).toEqual(['aborted', uploadId]);
    expect(gaveUp.reason).toMatch(/^gave up after 2 attempts since .*: HTTP 503$/);
    expect(await s.states(fresh)).toEqual(['waiting', 'waiting']);
  });

  it('snooze gives back the attempt of each job, range job and retry alike', async () => {
    const { retried, fresh, uploadId, guard, all } = await mixedUpload(s);
    expect(await snooze(s.t.db, guard, all.map((jobId) => ({ jobId, reason: 'queue full', retryAfterMs: 0, ...failure })), true)).toBe(3);
    const old = await s.job(retried);
    expect([old.state, old.attempts, old.upload_id]).toEqual(['waiting', 1, uploadId]);
    const job = await s.job(fresh[0]!);
    expect([job.state, job.attempts, job.last_error]).toEqual(['waiting', 0, 'queue full']);
  });

  it('a warning on a range job, then the rest of the upload succeeds', async () => {
    const { retried, fresh, guard } = await mixedUpload(s);
    expect(await markSucceeded(s.t.db, guard, [{ jobId: fresh[0]!, warning: 'field truncated' }])).toBe(1);
    expect(await markAborted(s.t.db, guard, [{ jobId: retried, reason: 'email is not valid', code: 'record_rejected' }])).toBe(1);
    expect(await markAllSucceeded(s.t.db, guard)).toBe(1);
    const warned = await s.job(fresh[0]!);
    expect([warned.state, warned.reason, warned.attempts]).toEqual(['succeeded', 'field truncated', 1]);
    expect((await s.job(fresh[1]!)).reason).toBeNull();
    expect(await s.states([retried, ...fresh])).toEqual(['aborted', 'succeeded', 'succeeded']);
  });

  it('nothing touches a range job once its range went final', async () => {
    await s.enqueue(2);
    const { uploadId, jobs } = await s.claim();
    const guard: JobGuard = { state: 'executing', uploadId };
    const ids = jobs.map((j) => j.id);
    await markAllSucceeded(s.t.db, guard);
    const before = await Promise.all(ids.map((id) => s.job(id)));
    expect(await markAborted(s.t.db, guard, ids.map((jobId) => ({ jobId, reason: 'late', code: 'record_rejected' })))).toBe(0);
    expect(await markSucceeded(s.t.db, guard, ids.map((jobId) => ({ jobId, warning: 'late' })))).toBe(0);
    expect(await scheduleRetries(s.t.db, guard, ids.map((jobId) => ({ jobId, error: 'late', ...failure })), RETRY_NOW, false)).toEqual({ retried: 0, aborted: 0 });
    expect(await snooze(s.t.db, guard, ids.map((jobId) => ({ jobId, reason: 'late', retryAfterMs: 0, ...failure })), false)).toBe(0);
    expect(await Promise.all(ids.map((id) => s.job(id)))).toEqual(before);
  });

  it('a range job that left for another upload belongs to that upload only', async () => {
    await s.enqueue(1);
    const first = await s.claim();
    const jobId = first.jobs[0]!.id;
    const firstGuard: JobGuard = { state: 'executing', uploadId: first.uploadId };
    await snooze(s.t.db, firstGuard, [{ jobId, reason: 'queue full', retryAfterMs: 0, ...failure }], false);
    const second = await s.claim();
    expect(second.jobs.map((j) => j.id)).toEqual([jobId]);
    expect(await markAborted(s.t.db, firstGuard, [{ jobId, reason: 'zombie', code: 'record_rejected' }])).toBe(0);
    expect(await markSucceeded(s.t.db, { state: 'executing', uploadId: second.uploadId }, [{ jobId }])).toBe(1);
    expect((await s.job(jobId)).state).toBe('succeeded');
  });

  it('only the named jobs that are the guard\'s change: another destination\'s job, an unknown id', async () => {
    const [other] = await s.enqueue(1, OTHER_DEST);
    await s.claim({ destinationId: OTHER_DEST });
    const { fresh, guard } = await mixedUpload(s);
    const items = [fresh[0]!, other!, '999999999'].map((jobId) => ({ jobId, error: 'HTTP 503', ...failure }));
    expect(await scheduleRetries(s.t.db, guard, items, RETRY_NOW, false)).toEqual({ retried: 1, aborted: 0 });
    expect((await s.job(other!)).state).toBe('executing');
    expect((await s.job(fresh[1]!)).state).toBe('executing');
  });

  // Skipped on PGlite, which serialises every connection into one session.
  describe.skipIf(requiresServer)('between two sessions (PostgreSQL server)', () => {
    it('a verdict on a range job holds the upload: the whole-upload success waits, then leaves that job alone and uncounted', async () => {
      await s.enqueue(3);
      const { uploadId, jobs } = await s.claim();
      const guard: JobGuard = { state: 'executing', uploadId };
      const counted = await whileAVerdictIsHeld(s, guard, jobs[0]!.id, () => markAllSucceeded(s.t.db, guard));
      expect(counted).toBe(2);
      expect(await s.states(jobs.map((j) => j.id))).toEqual(['aborted', 'succeeded', 'succeeded']);
    });
  });
});
