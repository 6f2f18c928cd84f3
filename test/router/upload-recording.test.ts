/**
 * How an upload's end is recorded by runUpload: all succeeded, together with the destination's
 * next claim when the worker takes another upload (alone when it is stopping, or if that call fails,
 * so a claim's trouble never costs an upload its outcome); anything else, as a transaction that claims nothing.
 */
import { describe, expect, it } from 'vitest';
import { claimNextUpload, recordAndClaimNext, type ClaimResult } from '../../src/router/claim.ts';
import { runUpload, type RecordAndClaimNext } from '../../src/router/upload-runner.ts';
import { RetryableError } from '../../src/manager/errors.ts';
import { getUpload } from '../../src/store/uploads.repository.ts';
import type { ActiveDestination } from '../../src/router/types.ts';
import { scriptedManager, testDestination, type Script } from '../helpers/scripted-manager.ts';
import { DEST, storeFixture, type StoreFixture } from '../store/store-fixture.ts';

const OWNER = 'w1';

function destinationWith(script: Script = {}): ActiveDestination {
  return testDestination(scriptedManager({ passThrough: true, ...script }).manager, DEST, { maxEventsPerUpload: 3, uploadIntervalMs: 3_600_000 });
}

async function claimFirst(s: StoreFixture, destination: ActiveDestination): Promise<Extract<ClaimResult, { kind: 'claimed' }>> {
  const claim = await claimNextUpload(s.routerContext(OWNER), destination);
  if (claim.kind !== 'claimed') throw new Error(`expected a claim, got ${claim.kind}`);
  return claim;
}

describe('router: recording an upload', () => {
  const s = storeFixture();
  const lease = new AbortController().signal;

  it('all succeeded: recorded, and the next upload claimed by the same call is returned', async () => {
    const destination = destinationWith();
    const ids = await s.enqueue(6);
    const first = await claimFirst(s, destination);
    let calls = 0;
    const claimNext: RecordAndClaimNext = (upload) => { calls += 1; return recordAndClaimNext(s.routerContext(OWNER), destination, upload); };
    const next = await runUpload(s.routerContext(OWNER), destination, first, lease, claimNext);
    expect(calls).toBe(1);
    expect(next?.kind === 'claimed' ? next.jobs.map((j) => j.id) : next).toEqual(ids.slice(3));
    expect(await s.states(ids)).toEqual(['succeeded', 'succeeded', 'succeeded', 'executing', 'executing', 'executing']);
  });

  it('all succeeded, but the call with the claim fails: recorded alone, nothing claimed', async () => {
    const destination = destinationWith();
    const ids = await s.enqueue(6);
    const first = await claimFirst(s, destination);
    const claimNext: RecordAndClaimNext = () => Promise.reject(new Error('connection reset while claiming'));
    expect(await runUpload(s.routerContext(OWNER), destination, first, lease, claimNext)).toBeUndefined();
    expect(await s.states(ids)).toEqual(['succeeded', 'succeeded', 'succeeded', 'waiting', 'waiting', 'waiting']);
    expect((await getUpload(s.t.db, first.uploadId))!.state).toBe('finished');
  });

  it('all succeeded while the worker is stopping (no next claim wanted): recorded alone', async () => {
    const destination = destinationWith();
    const ids = await s.enqueue(6);
    const first = await claimFirst(s, destination);
    expect(await runUpload(s.routerContext(OWNER), destination, first, lease, () => undefined)).toBeUndefined();
    expect(await s.states(ids)).toEqual(['succeeded', 'succeeded', 'succeeded', 'waiting', 'waiting', 'waiting']);
  });

  it('a failed send is recorded by its own transaction and claims nothing', async () => {
    const destination = destinationWith({ upload: () => Promise.reject(new RetryableError('HTTP 503 from the vendor')) });
    const ids = await s.enqueue(6);
    const first = await claimFirst(s, destination);
    let calls = 0;
    const claimNext: RecordAndClaimNext = (upload) => { calls += 1; return recordAndClaimNext(s.routerContext(OWNER), destination, upload); };
    expect(await runUpload(s.routerContext(OWNER), destination, first, lease, claimNext)).toBeUndefined();
    expect(calls).toBe(0);
    expect((await getUpload(s.t.db, first.uploadId))!.state).toBe('retry_wait');
    expect(await s.states(ids.slice(3))).toEqual(['waiting', 'waiting', 'waiting']);
  });
});
