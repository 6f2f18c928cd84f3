/**
 * Store conformance: what the CLI, the API and the metrics read. Counts by destination and state,
 * by id range (enqueue --wait), by upload and by submission; the one job listing with every filter
 * and keyset paging; a destination's activity and backlog age.
 */
import { describe, expect, it } from 'vitest';
import { countByDestinationAndState, countStatesInRange, countStatesOfUpload, hasUnfinishedJobs, insertJobs } from '../../src/store/jobs.repository.ts';
import { countStatesOfDestination } from '../../src/store/jobs.counts.ts';
import { insertImports } from '../../src/store/imports.repository.ts';
import { destinationActivity, oldestWaitingByDestination } from '../../src/store/jobs.reporting.ts';
import { listJobs, type JobListFilter } from '../../src/store/jobs.listing.ts';
import { markAborted, markAllSucceeded, markImporting, scheduleRetries } from '../../src/store/jobs.transitions.ts';
import { countStatesOfSubmission, insertSubmission } from '../../src/api/store/submissions.repository.ts';
import { DEST, GIVE_UP_AT_ONCE, OTHER_DEST, RETRY_NOW, events, storeFixture } from './store-fixture.ts';

/** Ids as listings return them. */
const newestFirst = (ids: readonly string[]) => [...ids].reverse();

const zero = { waiting: 0, executing: 0, importing: 0, succeeded: 0, aborted: 0, cancelled: 0 };

describe('store: reporting', () => {
  const s = storeFixture();

  /** DEST: 2 succeeded, 1 aborted, 1 executing, 2 waiting (2 of them in sub-1); OTHER_DEST: 1 waiting. */
  async function populate() {
    await insertSubmission(s.t.db, { id: 'sub-1', destinationId: DEST, keyId: null, jobCount: 2, callbackUrl: null });
    const done = await s.enqueue(3);
    const first = await s.claim({ limit: 3 });
    await markAborted(s.t.db, { state: 'executing', uploadId: first.uploadId }, [{ jobId: done[2]!, reason: 'bad', code: 'bad_event' }]);
    await markAllSucceeded(s.t.db, { state: 'executing', uploadId: first.uploadId });
    const [executing] = await s.enqueue(1);
    const second = await s.claim();
    const waiting = await insertJobs(s.t.db, DEST, events(2), 'sub-1');
    const [other] = await s.enqueue(1, OTHER_DEST);
    return { done, executing: executing!, waiting, other: other!, firstUpload: first.uploadId, secondUpload: second.uploadId };
  }

  it('counts by destination and state', async () => {
    await populate();
    const counts = await countByDestinationAndState(s.t.db);
    const sorted = counts.map((c) => `${c.destinationId}/${c.state}=${c.count}`).sort();
    expect(sorted).toEqual([`${DEST}/aborted=1`, `${DEST}/executing=1`, `${DEST}/succeeded=2`, `${DEST}/waiting=2`, `${OTHER_DEST}/waiting=1`]);
  });

  it('counts by id ranges of one destination, by upload and by submission', async () => {
    const p = await populate();
    const range = { first: p.done[0]!, last: p.other };
    expect(await countStatesInRange(s.t.db, DEST, [range])).toEqual({ ...zero, succeeded: 2, aborted: 1, executing: 1, waiting: 2 });
    expect(await countStatesInRange(s.t.db, OTHER_DEST, [range])).toEqual({ ...zero, waiting: 1 });
    expect(await countStatesInRange(s.t.db, DEST, [{ first: p.done[0]!, last: p.done[0]! }, { first: p.executing, last: p.executing }]))
      .toEqual({ ...zero, succeeded: 1, executing: 1 });
    expect(await countStatesInRange(s.t.db, DEST, [])).toEqual(zero);
    expect(await countStatesOfUpload(s.t.db, p.firstUpload)).toEqual({ ...zero, succeeded: 2, aborted: 1 });
    expect(await countStatesOfUpload(s.t.db, p.secondUpload)).toEqual({ ...zero, executing: 1 });
    expect(await countStatesOfSubmission(s.t.db, 'sub-1')).toEqual({ ...zero, waiting: 2 });
  });

  const listCases: Array<{ name: string; filter: (p: Awaited<ReturnType<typeof populate>>) => Omit<JobListFilter, 'limit'>; ids: (p: Awaited<ReturnType<typeof populate>>) => string[] }> = [
    { name: 'everything, newest first', filter: () => ({}), ids: (p) => [p.other, ...newestFirst(p.waiting), p.executing, ...newestFirst(p.done)] },
    { name: 'one destination', filter: () => ({ destinationId: OTHER_DEST }), ids: (p) => [p.other] },
    { name: 'visible destinations', filter: () => ({ visibleDestinations: [OTHER_DEST] }), ids: (p) => [p.other] },
    { name: 'no visible destination', filter: () => ({ visibleDestinations: [] }), ids: () => [] },
    { name: 'states', filter: () => ({ states: ['aborted', 'executing'] }), ids: (p) => [p.executing, p.done[2]!] },
    { name: 'submission', filter: () => ({ submissionId: 'sub-1' }), ids: (p) => newestFirst(p.waiting) },
    { name: 'created window', filter: () => ({ createdAfter: new Date(Date.now() - 3_600_000), createdBefore: new Date(0) }), ids: () => [] },
    { name: 'updated window', filter: () => ({ updatedAfter: new Date(Date.now() - 3_600_000), destinationId: OTHER_DEST }), ids: (p) => [p.other] },
    { name: 'before an id', filter: (p) => ({ beforeId: p.executing }), ids: (p) => newestFirst(p.done) },
  ];
  it.each(listCases)('listJobs: $name', async ({ filter, ids }) => {
    const p = await populate();
    expect((await listJobs(s.t.db, { ...filter(p), limit: 100 })).map((r) => r.id)).toEqual(ids(p));
  });

  it('listJobs pages by keyset without gaps or repeats, even as new jobs arrive', async () => {
    const all = await s.enqueue(7);
    const seen: string[] = [];
    let beforeId: string | undefined;
    for (;;) {
      const page = await listJobs(s.t.db, { destinationId: DEST, beforeId, limit: 3 });
      seen.push(...page.map((r) => r.id));
      if (page.length < 3) break;
      beforeId = page.at(-1)!.id;
      await s.enqueue(1); // newer than the cursor: must not shift the pages
    }
    expect(seen).toEqual(newestFirst(all));
  });

  /** Each case leaves DEST's jobs in some states; the answer must match the counts' non-final states. */
  const unfinishedCases: Array<{ name: string; arrange: () => Promise<unknown>; unfinished: boolean }> = [
    { name: 'no job at all', arrange: async () => undefined, unfinished: false },
    { name: 'waiting above the cursor', arrange: () => s.enqueue(2), unfinished: true },
    { name: 'executing in an upload range', arrange: async () => { await s.enqueue(2); await s.claim(); }, unfinished: true },
    {
      name: 'every job succeeded with its upload',
      arrange: async () => { await s.enqueue(2); await markAllSucceeded(s.t.db, { state: 'executing', uploadId: (await s.claim()).uploadId }); },
      unfinished: false,
    },
    {
      name: 'the range succeeded but one job waits to be retried',
      arrange: async () => {
        const [first] = await s.enqueue(2);
        const { uploadId } = await s.claim();
        await scheduleRetries(s.t.db, { state: 'executing', uploadId }, [{ jobId: first!, error: 'busy', code: 'vendor_unavailable' }], RETRY_NOW, false);
        await markAllSucceeded(s.t.db, { state: 'executing', uploadId });
      },
      unfinished: true,
    },
    {
      name: 'every job of the range has a final exception row while the range is still executing',
      arrange: async () => {
        const ids = await s.enqueue(2);
        const { uploadId } = await s.claim();
        await scheduleRetries(s.t.db, { state: 'executing', uploadId }, ids.map((jobId) => ({ jobId, error: 'bad', code: 'record_rejected' })), GIVE_UP_AT_ONCE, false);
      },
      unfinished: false,
    },
    {
      name: 'importing',
      arrange: async () => {
        const [job] = await s.enqueue(1);
        const { uploadId } = await s.claim();
        const [importId] = await insertImports(s.t.db, { uploadId, destinationId: DEST, handles: [{ vendorId: 'v-1' }], firstPollInMs: 60_000 });
        await markImporting(s.t.db, uploadId, [{ jobId: job!, importId: importId! }]);
        await markAllSucceeded(s.t.db, { state: 'executing', uploadId });
      },
      unfinished: true,
    },
    { name: 'only another destination has jobs', arrange: () => s.enqueue(3, OTHER_DEST), unfinished: false },
  ];
  it.each(unfinishedCases)('hasUnfinishedJobs: $name', async ({ arrange, unfinished }) => {
    await arrange();
    const counts = await countStatesOfDestination(s.t.db, DEST);
    expect(counts.waiting + counts.executing + counts.importing > 0).toBe(unfinished);
    expect(await hasUnfinishedJobs(s.t.db, DEST)).toBe(unfinished);
  });

  it('destination activity and backlog age', async () => {
    await populate();
    const activity = await destinationActivity(s.t.db, DEST, 3_600_000);
    expect(activity.counts).toEqual({ ...zero, succeeded: 2, aborted: 1, executing: 1, waiting: 2 });
    expect(activity.finishedInWindow).toEqual({ succeeded: 2, aborted: 1, cancelled: 0 });
    expect(activity.oldestWaitingSeconds).toBeGreaterThanOrEqual(0);
    expect((await destinationActivity(s.t.db, 'nobody', 1000)).oldestWaitingSeconds).toBeNull();
    const ages = await oldestWaitingByDestination(s.t.db);
    expect(ages.map((a) => a.destinationId).sort()).toEqual([DEST, OTHER_DEST]);
  });
});
