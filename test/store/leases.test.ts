/**
 * Store conformance: leases. Heartbeats extend only the leases their worker holds; an expired
 * upload lease is recovered by the sweeper (its jobs wait inside the same upload for a resend, or
 * give up when their budget is spent); the worker that lost its lease is a zombie whose attempt
 * can no longer end; import poll leases keep two pollers off one import.
 */
import { describe, expect, it } from 'vitest';
import { claimJobsOfUpload } from '../../src/store/jobs.repository.ts';
import { markAllSucceeded } from '../../src/store/jobs.transitions.ts';
import {
  claimRetryUpload,
  endUploadAttempt,
  expireLeases,
  getUpload,
  heartbeat,
  type Lease,
} from '../../src/store/uploads.repository.ts';
import { claimDueImports, finishImport, getImport, schedulePoll } from '../../src/store/imports.repository.ts';
import { recoverExpiredUploads } from '../../src/router/sweeper.ts';
import { DEST, GIVE_UP_AT_ONCE, LEASE, RETRY_NOW, storeFixture } from './store-fixture.ts';

/** A lease that ran out a second ago: expiry without waiting for the clock. */
const EXPIRED: Lease = { owner: 'worker-dead', ms: -1000 };

describe('store: leases', () => {
  const s = storeFixture();

  it('heartbeat extends the leases this worker still holds and names only those', async () => {
    await s.enqueue(3);
    const mine = await s.claim({ limit: 1 });
    const theirs = await s.claim({ limit: 1, lease: { owner: 'worker-2', ms: 60_000 } });
    const ended = await s.claim({ limit: 1 });
    await endUploadAttempt(s.t.db, { uploadId: ended.uploadId, owner: LEASE.owner, attempt: 1, state: 'finished' });
    const before = (await getUpload(s.t.db, mine.uploadId))!.lease_expires_at!;

    const held = await heartbeat(s.t.db, [mine.uploadId, theirs.uploadId, ended.uploadId], { owner: LEASE.owner, ms: 600_000 });
    expect([...held]).toEqual([mine.uploadId]);
    expect((await getUpload(s.t.db, mine.uploadId))!.lease_expires_at!.getTime()).toBeGreaterThan(before.getTime());
    expect(await heartbeat(s.t.db, [], LEASE)).toEqual(new Set());
  });

  const endCases = [
    { name: 'ends for its owner at its attempt', owner: LEASE.owner, attempt: 1, ends: true },
    { name: 'refuses another owner', owner: 'worker-2', attempt: 1, ends: false },
    { name: 'refuses a stale attempt', owner: LEASE.owner, attempt: 0, ends: false },
  ];
  it.each(endCases)('endUploadAttempt $name', async ({ owner, attempt, ends }) => {
    await s.enqueue(1);
    const { uploadId } = await s.claim();
    expect(await endUploadAttempt(s.t.db, { uploadId, owner, attempt, state: 'importing' })).toBe(ends);
    expect((await getUpload(s.t.db, uploadId))!.state).toBe(ends ? 'importing' : 'uploading');
    // Once ended, the same call is refused: an attempt ends once.
    if (ends) expect(await endUploadAttempt(s.t.db, { uploadId, owner, attempt, state: 'finished' })).toBe(false);
  });

  it('expireLeases takes only uploads whose lease ran out, for their destination', async () => {
    await s.enqueue(3);
    const live = await s.claim({ limit: 1 });
    const dead = await s.claim({ limit: 1, lease: EXPIRED });
    expect(await expireLeases(s.t.db, 'another-destination')).toEqual([]);
    expect(await expireLeases(s.t.db, DEST)).toEqual([{ id: dead.uploadId, owner: EXPIRED.owner }]);
    const upload = (await getUpload(s.t.db, dead.uploadId))!;
    expect([upload.state, upload.lease_owner, upload.error_code]).toEqual(['retry_wait', null, 'worker_lost']);
    expect((await getUpload(s.t.db, live.uploadId))!.state).toBe('uploading');
  });

  it('recovery: a dead worker\'s upload is resent whole under a new attempt, and the zombie cannot end it', async () => {
    await s.enqueue(2);
    const dead = await s.claim({ lease: EXPIRED });
    const ids = dead.jobs.map((j) => j.id);
    expect(await recoverExpiredUploads(s.routerContext('sweeper'), DEST, RETRY_NOW)).toBe(1);
    for (const id of ids) {
      const job = await s.job(id);
      expect([job.state, job.upload_id, job.error_code]).toEqual(['waiting', dead.uploadId, 'worker_lost']);
    }
    // Not claimable as new work: the jobs belong to the upload's resend.
    expect((await s.claim()).jobs).toEqual([]);

    const retry = (await claimRetryUpload(s.t.db, DEST, LEASE))!;
    expect([retry.id, retry.attempt, retry.lease_owner]).toEqual([dead.uploadId, 2, LEASE.owner]);
    expect((await claimJobsOfUpload(s.t.db, retry.id)).map((j) => [j.id, j.attempts])).toEqual(ids.map((id) => [id, 2]));

    // The zombie wakes up and tries to finish attempt 1: refused, so it must roll back its verdicts.
    expect(await endUploadAttempt(s.t.db, { uploadId: dead.uploadId, owner: EXPIRED.owner, attempt: 1, state: 'finished' })).toBe(false);
    expect(await endUploadAttempt(s.t.db, { uploadId: retry.id, owner: LEASE.owner, attempt: 2, state: 'finished' })).toBe(true);
  });

  it('recovery: jobs whose budget is spent give up, and their upload is settled', async () => {
    await s.enqueue(2);
    const dead = await s.claim({ lease: EXPIRED });
    await recoverExpiredUploads(s.routerContext('sweeper'), DEST, GIVE_UP_AT_ONCE);
    expect(await s.states(dead.jobs.map((j) => j.id))).toEqual(['aborted', 'aborted']);
    expect((await s.job(dead.jobs[0]!.id)).reason).toMatch(/stopped renewing its lease/);
    expect((await getUpload(s.t.db, dead.uploadId))!.state).toBe('finished');
    expect(await claimRetryUpload(s.t.db, DEST, LEASE)).toBeUndefined();
  });

  it('recovery leaves live uploads and their jobs alone', async () => {
    await s.enqueue(1);
    const live = await s.claim();
    expect(await recoverExpiredUploads(s.routerContext('sweeper'), DEST, RETRY_NOW)).toBe(0);
    expect(await markAllSucceeded(s.t.db, { state: 'executing', uploadId: live.uploadId })).toBe(1);
  });

  it('import poll leases: one poller at a time, guarded results, a dead poller\'s lease lapses', async () => {
    const { importId } = await s.importing(1);
    const claim = (owner: string, ms = 60_000) => claimDueImports(s.t.db, { destinationIds: [DEST], lease: { owner, ms }, limit: 10 });
    expect((await claim('poller-dead', -1000)).map((i) => i.id)).toEqual([importId]);
    // Its lease already lapsed: another poller takes over, and then holds it against a third.
    expect((await claim('poller-1')).map((i) => i.id)).toEqual([importId]);
    expect(await claim('poller-2')).toEqual([]);
    expect(await schedulePoll(s.t.db, { importId, owner: 'poller-dead', progress: 50, inMs: 0 })).toBe(false);
    expect(await schedulePoll(s.t.db, { importId, owner: 'poller-1', progress: 50, inMs: 0 })).toBe(true);
    expect((await claim('poller-2')).map((i) => i.id)).toEqual([importId]);
    expect(await finishImport(s.t.db, { importId, owner: 'poller-1', state: 'completed' })).toBe(false);
    expect(await finishImport(s.t.db, { importId, owner: 'poller-2', state: 'completed', unconfirmedJobs: 1 })).toBe(true);
    const done = (await getImport(s.t.db, importId))!;
    expect([done.state, done.progress, done.unconfirmed_jobs]).toEqual(['completed', 100, 1]);
    expect(await claim('poller-3', -1000)).toEqual([]);
  });
});
