/**
 * klaviyo-bulk-import through the real router and PostgreSQL, against the Klaviyo fake: what the
 * jobs end up as, not just what the manager returns.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { insertJobs } from '../../src/store/jobs.repository.ts';
import type { Router } from '../../src/router/router.ts';
import { startKlaviyoFake, type KlaviyoFake } from './test/klaviyo-fake.ts';
import { databaseForFile } from '../../test/helpers/file-database.ts';
import { idsIn, jobRows, waitForFinal } from '../../test/helpers/job-states.ts';
import { startRouter } from '../../test/helpers/router.ts';
import { testDestination } from '../../test/helpers/scripted-manager.ts';
import { waitFor } from '../../test/helpers/wait-for.ts';
import manager from './index.ts';


const events = (n: number, edit: (i: number) => Record<string, unknown> = () => ({})) =>
  Array.from({ length: n }, (_, i) => JSON.stringify({ email: `user${i}@example.com`, firstName: `U${i}`, properties: { n: i }, ...edit(i) }));

describe('klaviyo-bulk-import through the router', () => {
  const t = databaseForFile();
  let fake: KlaviyoFake;
  let router: Router | undefined;
  afterEach(async () => {
    await router?.stop();
    router = undefined;
    await fake?.close();
  });

  /** Starts a router (a fresh process: new session) for the current fake. */
  function start(config: Record<string, unknown> = {}) {
    const raw = { apiKey: fake.apiKey, baseUrl: fake.url, rateLimitPerMinute: 60_000, rateLimitBurst: 1_000, resultRereadDelayMs: 50, ...config };
    // With the database, as the daemon does: the rate limit is the account's, in PostgreSQL.
    router = startRouter(t.db, [testDestination(manager, 'dest-1', {}, raw, [fake.apiKey], { db: t.db })]);
  }
  const posts = () => fake.requests().filter((r) => r.method === 'POST');

  it('imports every profile into the list and marks the jobs succeeded', async () => {
    fake = await startKlaviyoFake();
    await insertJobs(t.db, 'dest-1', events(30));
    start({ listId: 'LIST1' });
    const rows = await waitForFinal(t.db);
    expect(idsIn(rows, 'succeeded')).toHaveLength(30);
    expect([...fake.jobs.values()].every((job) => job.status === 'complete' && job.listId === 'LIST1')).toBe(true);
    expect(rows[0]!.correlation_key).toBe('email:user0@example.com');
  });

  it('maps import errors (paged) back to the right jobs with Klaviyo’s detail', async () => {
    fake = await startKlaviyoFake({ maxPageSize: 2 });
    const bad = new Set([1, 4, 5, 9, 12]);
    const ids = await insertJobs(t.db, 'dest-1', events(15, (i) => ({ phone: bad.has(i) ? `555-01${i}` : `+1555010${String(i).padStart(4, '0')}` })));
    start();
    const rows = await waitForFinal(t.db);
    expect(idsIn(rows, 'aborted')).toEqual(ids.filter((_, i) => bad.has(i)));
    const aborted = rows.find((r) => r.id === ids[4])!;
    expect(aborted.reason).toBe('Klaviyo could not import the profile: Phone number 555-014 is not in E.164 format (invalid_phone_number)');
    // The first read comes before Klaviyo wrote the errors (it lists none of the five it counts), so
    // they are read again: five errors at two per page, three pages found through links.next.
    expect(fake.requests().filter((r) => r.path.includes('/import-errors'))).toHaveLength(4);
  });

  it('aborts the profiles a 400 points at and resends the rest once', async () => {
    fake = await startKlaviyoFake();
    const ids = await insertJobs(t.db, 'dest-1', events(8, (i) => (i === 2 || i === 6 ? { email: `broken-${i}` } : {})));
    start();
    const rows = await waitForFinal(t.db);
    expect(idsIn(rows, 'aborted')).toEqual([ids[2], ids[6]]);
    expect(rows.find((r) => r.id === ids[6])!.reason).toBe('Klaviyo rejected the profile: Invalid email address: broken-6 (invalid)');
    expect(idsIn(rows, 'succeeded')).toHaveLength(6);
    const [first, second] = posts();
    expect(JSON.parse(first!.body).data.attributes.profiles.data).toHaveLength(8);
    expect(JSON.parse(second!.body).data.attributes.profiles.data.map((p: { attributes: { email: string } }) => p.attributes.email)).not.toContain('broken-2');
    expect(posts()).toHaveLength(2);
  });

  it('honours Retry-After on a 429 when creating the job and when polling it', async () => {
    fake = await startKlaviyoFake();
    fake.script('create', { status: 429, retryAfter: 1 });
    fake.script('job', { status: 429, retryAfter: 1 });
    await insertJobs(t.db, 'dest-1', events(5));
    start();
    const rows = await waitForFinal(t.db);
    expect(idsIn(rows, 'succeeded')).toHaveLength(5);
    expect(rows[0]!.attempts).toBe(2);
    expect(rows[0]!.last_error).toMatch(/Klaviyo answered 429/);
    const [throttled, accepted] = posts();
    expect(accepted!.at - throttled!.at).toBeGreaterThanOrEqual(1_000);
    const gets = fake.requests().filter((r) => r.method === 'GET' && !r.path.includes('import-errors'));
    expect(gets[1]!.at - gets[0]!.at).toBeGreaterThanOrEqual(1_000);
  });

  it('finishes after a restart between submit and poll, mapping errors by the persisted keys', async () => {
    fake = await startKlaviyoFake({ progression: 'manual' });
    const ids = await insertJobs(t.db, 'dest-1', events(6, (i) => (i === 3 ? { phone: 'not-a-phone' } : {})));
    start();
    await waitFor(async () => (await jobRows(t.db)).every((r) => r.state === 'importing'), { message: 'jobs importing' });
    await waitFor(() => fake.requests().some((r) => r.method === 'GET'), { message: 'the first router polls' });
    await router!.stop();

    // A new process: a new session and router; only the database and the vendor remain.
    await fake.finishAll();
    start();
    const rows = await waitForFinal(t.db);
    expect(idsIn(rows, 'aborted')).toEqual([ids[3]]);
    expect(rows.find((r) => r.id === ids[3])!.reason).toMatch(/not-a-phone is not in E\.164 format/);
    expect(posts()).toHaveLength(1);
  });
});
