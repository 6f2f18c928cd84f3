/**
 * Store conformance: claiming. Batch limits (count and bytes), id order, one upload per job,
 * destinations kept apart, not-yet-due retries left alone, the backlog probe the claim loop reads,
 * cursor turn-taking between two sessions, and the per-destination concurrency limit of claimNextUpload.
 */
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { claimNewUpload, claimReadyJobs, readClaimGate, readyBacklog } from '../../src/store/jobs.repository.ts';
import { endUploadAttempt, getUpload } from '../../src/store/uploads.repository.ts';
import { scheduleRetries } from '../../src/store/jobs.transitions.ts';
import { claimNextUpload } from '../../src/router/claim.ts';
import { scriptedManager, testDestination } from '../helpers/scripted-manager.ts';
import { requiresServer } from '../helpers/database.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { DEST, LEASE, OTHER_DEST, RETRY_NOW, storeFixture } from './store-fixture.ts';

describe('store: claim', () => {
  const s = storeFixture();

  const batchCases = [
    { name: 'takes at most `limit` jobs', ready: 5, limit: 3, maxBytes: 1e9, claimed: 3 },
    { name: 'takes what is there when fewer than `limit` are ready', ready: 2, limit: 10, maxBytes: 1e9, claimed: 2 },
    { name: 'takes nothing from an empty destination', ready: 0, limit: 10, maxBytes: 1e9, claimed: 0 },
    // Each event is {"n":i,"type":"track"}: 22 bytes for one digit. 50 bytes hold two of them.
    { name: 'stops before the summed payload bytes pass maxBytes', ready: 5, limit: 10, maxBytes: 50, claimed: 2 },
    { name: 'always takes the first job, even one larger than maxBytes', ready: 3, limit: 10, maxBytes: 1, claimed: 1 },
  ];
  it.each(batchCases)('$name', async ({ ready, limit, maxBytes, claimed }) => {
    const ids = await s.enqueue(ready);
    const { jobs } = await s.claim({ limit, maxBytes });
    expect(jobs.map((j) => j.id)).toEqual(ids.slice(0, claimed));
  });

  it('returns each job with its attempt counted and its payload byte for byte, in id order', async () => {
    const ids = await s.enqueue(3);
    const { uploadId, jobs } = await s.claim();
    expect(jobs).toEqual(ids.map((id, i) => ({ id, attempts: 1, payload: JSON.stringify({ n: i, type: 'track' }) })));
    for (const id of ids) {
      const job = await s.job(id);
      expect([job.state, job.upload_id]).toEqual(['executing', uploadId]);
    }
  });

  it('never puts a job in two uploads: a second claim takes only what the first left', async () => {
    const ids = await s.enqueue(5);
    const first = await s.claim({ limit: 3 });
    const second = await s.claim({ limit: 3 });
    const third = await s.claim({ limit: 3 });
    expect(first.jobs.map((j) => j.id)).toEqual(ids.slice(0, 3));
    expect(second.jobs.map((j) => j.id)).toEqual(ids.slice(3));
    expect(third.jobs).toEqual([]);
  });

  it('claims only the given destination', async () => {
    const mine = await s.enqueue(2, DEST);
    await s.enqueue(2, OTHER_DEST);
    expect((await s.claim({ destinationId: DEST })).jobs.map((j) => j.id)).toEqual(mine);
  });

  it('leaves a retry alone until its next attempt is due, then takes it again', async () => {
    const [id] = await s.enqueue(1);
    const { uploadId } = await s.claim();
    const later = { ...RETRY_NOW, minBackoffMs: 3_600_000, maxBackoffMs: 3_600_000 };
    await scheduleRetries(s.t.db, { state: 'executing', uploadId }, [{ jobId: id!, error: 'HTTP 503', code: 'vendor_unavailable' }], later, false);
    expect((await s.claim()).jobs).toEqual([]);
    const backlog = await readyBacklog(s.t.db, DEST, 10, 1000);
    expect(backlog.ready).toBe(0);
    expect(backlog.nextReadyInMs).toBeGreaterThan(1_700_000);

    const [other] = await s.enqueue(1);
    await scheduleRetries(s.t.db, { state: 'executing', uploadId: (await s.claim()).uploadId }, [{ jobId: other!, error: 'HTTP 503', code: 'vendor_unavailable' }], RETRY_NOW, false);
    const again = await s.claim();
    expect(again.jobs.map((j) => [j.id, j.attempts])).toEqual([[other, 2]]);
  });

  it('reports the ready backlog capped at `cap`, and skips counting once the oldest has waited sendAfterMs', async () => {
    await s.enqueue(5);
    expect((await readyBacklog(s.t.db, DEST, 3, 3_600_000)).ready).toBe(3);
    expect((await readyBacklog(s.t.db, DEST, 10, 3_600_000)).ready).toBe(5);
    expect((await readyBacklog(s.t.db, DEST, 10, 0)).ready).toBeNull();
    expect(await readyBacklog(s.t.db, OTHER_DEST, 10, 0)).toEqual({ ready: 0, oldestWaitMs: 0, nextReadyInMs: null });
  });

  it('claimNewUpload makes the upload and fills it in one statement: range, counts and lease, or nothing at all', async () => {
    const ids = await s.enqueue(4);
    const lease = { owner: 'w1', ms: 60_000 };
    const claimed = (await claimNewUpload(s.t.db, { destinationId: DEST, manager: 'scripted', lease, limit: 3, maxBytes: 1e9 }))!;
    expect(claimed.jobs.map((j) => [j.id, j.attempts])).toEqual(ids.slice(0, 3).map((id) => [id, 1]));
    const upload = (await getUpload(s.t.db, claimed.uploadId))!;
    expect([upload.state, upload.job_count, upload.lease_owner, upload.first_job_id, upload.last_job_id, upload.range_count, upload.jobs_state])
      .toEqual(['uploading', 3, 'w1', ids[0], ids[2], 3, 'executing']);
    expect(upload.created_at.getTime()).toBe(claimed.createdAt.getTime());
    for (const id of ids.slice(0, 3)) expect((await s.job(id)).upload_id).toBe(claimed.uploadId);

    const rest = (await claimNewUpload(s.t.db, { destinationId: DEST, manager: 'scripted', lease, limit: 3, maxBytes: 1e9 }))!;
    expect(rest.jobs.map((j) => j.id)).toEqual([ids[3]]);
    const before = await countUploads();
    expect(await claimNewUpload(s.t.db, { destinationId: DEST, manager: 'scripted', lease, limit: 3, maxBytes: 1e9 })).toBeUndefined();
    expect(await countUploads()).toBe(before);
  });

  it('claimNewUpload takes a due retry into an upload of its own, with no range when no new job came', async () => {
    const [id] = await s.enqueue(1);
    const { uploadId } = await s.claim();
    await scheduleRetries(s.t.db, { state: 'executing', uploadId }, [{ jobId: id!, error: 'HTTP 503', code: 'vendor_unavailable' }], RETRY_NOW, false);
    const retried = (await claimNewUpload(s.t.db, { destinationId: DEST, manager: 'scripted', lease: LEASE, limit: 10, maxBytes: 1e9 }))!;
    expect(retried.jobs.map((j) => [j.id, j.attempts])).toEqual([[id, 2]]);
    const upload = (await getUpload(s.t.db, retried.uploadId))!;
    expect([upload.job_count, upload.first_job_id, upload.range_count]).toEqual([1, null, 0]);
    expect(await s.job(id!)).toMatchObject({ state: 'executing', upload_id: retried.uploadId });
  });

  const gateCases = [
    { name: 'an empty destination', enqueue: 0, inFlight: 0, expected: { uploading: 0, retryDue: false, ready: 0 } },
    { name: 'a backlog, nothing in flight', enqueue: 5, inFlight: 0, expected: { uploading: 0, retryDue: false, ready: 5 } },
    { name: 'an upload in flight and the rest of the backlog', enqueue: 5, inFlight: 2, expected: { uploading: 1, retryDue: false, ready: 3 } },
  ];
  it.each(gateCases)('readClaimGate reads limits and backlog in one statement: $name', async ({ enqueue, inFlight, expected }) => {
    await s.enqueue(enqueue);
    if (inFlight > 0) await s.claim({ limit: inFlight });
    const gate = await readClaimGate(s.t.db, DEST, { cap: 10, sendAfterMs: 3_600_000 });
    expect({ uploading: gate.uploading, retryDue: gate.retryDue, ready: gate.backlog.ready }).toEqual(expected);
    expect(gate.openImports).toBe(0);
    expect(gate.nextRetryInMs).toBeNull();
    expect(gate.hasCursor).toBe(enqueue > 0);
  });

  it('readClaimGate sees a whole-upload retry once it is due', async () => {
    await s.enqueue(2);
    const later = await s.claim({ limit: 1 });
    await endUploadAttempt(s.t.db, { uploadId: later.uploadId, owner: LEASE.owner, attempt: 1, state: 'retry_wait', retryAfterMs: 3_600_000 });
    const ahead = await readClaimGate(s.t.db, DEST, { cap: 10, sendAfterMs: 0 });
    expect(ahead.retryDue).toBe(false);
    // An idle worker sleeps no longer than this, so the retry goes out when due, not at the next safety poll.
    expect(ahead.nextRetryInMs).toBeGreaterThan(3_500_000);
    expect(ahead.nextRetryInMs).toBeLessThanOrEqual(3_600_000);
    const due = await s.claim({ limit: 1 });
    await endUploadAttempt(s.t.db, { uploadId: due.uploadId, owner: LEASE.owner, attempt: 1, state: 'retry_wait', retryAfterMs: 0 });
    const gate = await readClaimGate(s.t.db, DEST, { cap: 10, sendAfterMs: 0 });
    expect([gate.retryDue, gate.nextRetryInMs]).toEqual([true, null]);
  });

  async function countUploads(): Promise<number> {
    const { rows } = await sql<{ n: string }>`SELECT count(*) AS n FROM br_uploads`.execute(s.t.db);
    return Number(rows[0]!.n);
  }

  // Skipped on PGlite, which serialises every connection into one session (see requiresServerReason).
  describe.skipIf(requiresServer)('between two sessions (PostgreSQL server)', () => {
    it('cursor turn-taking: a second session\'s claim waits for the first to commit, then takes the next jobs', async () => {
      const ids = await s.enqueue(6);
      let second: ReturnType<typeof s.claim> | undefined;
      const firstIds = await s.t.db.transaction().execute(async (trx) => {
        const held = await claimReadyJobs(trx, { destinationId: DEST, uploadId: '1', limit: 3, maxBytes: 1e9 });
        // A different pooled connection, while trx still holds the destination's cursor: it must wait.
        second = s.claim({ limit: 10 });
        await waitFor(async () => {
          const { rows } = await sql<{ n: string }>`
            SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`.execute(s.t.db);
          return Number(rows[0]!.n) > 0;
        }, { message: 'the second claim to wait for the first' });
        return held.map((j) => j.id);
      });
      expect(firstIds).toEqual(ids.slice(0, 3));
      expect((await second!).jobs.map((j) => j.id)).toEqual(ids.slice(3));
    });

    it('claimNextUpload keeps to uploadConcurrency across sessions, then frees the slot when an upload ends', async () => {
      await s.enqueue(10);
      const { manager } = scriptedManager();
      const destination = testDestination(manager, DEST, { uploadConcurrency: 2, maxEventsPerUpload: 3 });
      const ctx = s.routerContext;
      const results = await Promise.all(['w1', 'w2', 'w3'].map((w) => claimNextUpload(ctx(w), destination)));
      const claimed = results.filter((r) => r.kind === 'claimed');
      expect(claimed).toHaveLength(2);
      expect(results.filter((r) => r.kind === 'at-capacity')).toHaveLength(1);
      const jobIds = claimed.flatMap((r) => (r.kind === 'claimed' ? r.jobs.map((j) => j.id) : []));
      expect(new Set(jobIds).size).toBe(6);

      const done = claimed[0]!;
      if (done.kind !== 'claimed') throw new Error('unreachable');
      const owner = ['w1', 'w2', 'w3'][results.indexOf(done)]!;
      expect(await endUploadAttempt(s.t.db, { uploadId: done.uploadId, owner, attempt: 1, state: 'finished' })).toBe(true);
      expect((await claimNextUpload(ctx('w4'), destination)).kind).toBe('claimed');
    });
  });
});
