/**
 * Store conformance: the job listing reads about a page of jobs, not the history or the backlog,
 * when its matches are not the newest jobs (src/store/jobs.listing.ts): succeeded jobs under a
 * backlog of waiting ones, an idle destination named among others in an API key's scope, and the
 * newest waiting jobs of a long backlog. Which jobs it returns is pinned against the view in
 * span-reads.test.ts; this suite pins what it costs, counted in rows read.
 */
import { describe, expect, it } from 'vitest';
import { listJobs, type JobListFilter } from '../../src/store/jobs.listing.ts';
import { markAllSucceeded } from '../../src/store/jobs.transitions.ts';
import { requiresServer } from '../helpers/database.ts';
import { jobRowsReadBy } from './rows-read.ts';
import { DEST, OTHER_DEST, storeFixture, type StoreFixture } from './store-fixture.ts';

const DELIVERED = 2_000;
const BACKLOG = 3_000;
const PAGE = 20;

/** OTHER_DEST: 10 jobs delivered first; DEST: DELIVERED jobs delivered, then BACKLOG waiting. */
async function arrange(s: StoreFixture) {
  const idle = await s.enqueue(10, OTHER_DEST);
  await markAllSucceeded(s.t.db, { state: 'executing', uploadId: (await s.claim({ destinationId: OTHER_DEST, limit: 10 })).uploadId });
  const delivered: string[] = [];
  for (let i = 0; i < DELIVERED / 500; i++) {
    delivered.push(...(await s.enqueue(500)));
    await markAllSucceeded(s.t.db, { state: 'executing', uploadId: (await s.claim({ limit: 500 })).uploadId });
  }
  const backlog = await s.enqueue(BACKLOG);
  return { idle, delivered, backlog };
}

const newest = (ids: readonly string[], n: number) => [...ids].reverse().slice(0, n);

// Read counts come from the server's statistics: PostgreSQL only.
describe.skipIf(requiresServer)('store: what the job listing reads (PostgreSQL server)', () => {
  const s = storeFixture();

  const cases: Array<{ name: string; filter: Omit<JobListFilter, 'limit'>; expected: (a: Awaited<ReturnType<typeof arrange>>) => string[] }> = [
    { name: 'succeeded jobs under a backlog of waiting ones', filter: { states: ['succeeded'] }, expected: (a) => newest(a.delivered, PAGE) },
    { name: 'the busy destination\'s succeeded jobs', filter: { destinationId: DEST, states: ['succeeded'] }, expected: (a) => newest(a.delivered, PAGE) },
    { name: 'an idle destination among others in a key\'s scope', filter: { visibleDestinations: [OTHER_DEST, 'no-jobs'] }, expected: (a) => newest(a.idle, PAGE) },
    { name: 'an idle destination alone in a key\'s scope', filter: { visibleDestinations: [OTHER_DEST] }, expected: (a) => newest(a.idle, PAGE) },
    { name: 'the newest waiting jobs of a long backlog', filter: { states: ['waiting'] }, expected: (a) => newest(a.backlog, PAGE) },
  ];

  it.each(cases)(`$name: a page of ${PAGE} reads fewer than 10 pages of job rows`, async ({ filter, expected }) => {
    const a = await arrange(s);
    let page: string[] = [];
    const read = await jobRowsReadBy(s.t.db, async () => {
      page = (await listJobs(s.t.db, { ...filter, limit: PAGE })).map((j) => j.id);
    });
    expect(page).toEqual(expected(a));
    // A scan through the backlog or the other destination's history reads thousands.
    expect(read).toBeLessThan(10 * PAGE);
  });
});
