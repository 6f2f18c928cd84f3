/**
 * marketo-bulk-upload through the real router and database, against the Marketo fake: what an
 * operator would see in `br_jobs` for success, per-row failures and warnings, token expiry,
 * a full import queue, vendor outages, a restart between upload and poll, and file splitting.
 */
import { describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import type { Tuning } from '../../src/tuning.ts';
import { startMarketoFake, type MarketoFake, type MarketoFakeOptions } from './test/marketo-fake.ts';
import { emails, jobViews, routerHarness, waitForFinalJobs } from '../../test/helpers/bulk-jobs.ts';
import { testDestination } from '../../test/helpers/scripted-manager.ts';
import { waitFor } from '../../test/helpers/wait-for.ts';
import marketo from './index.ts';

describe('marketo-bulk-upload through the router', () => {
  const h = routerHarness();
  let fake: MarketoFake;

  async function startFake(options: MarketoFakeOptions): Promise<void> {
    fake = await startMarketoFake(options);
    h.onCleanup(() => fake.close());
  }
  async function run(options: MarketoFakeOptions, config: Record<string, unknown> = {}, tuning: Partial<Tuning> = {}): Promise<void> {
    await startFake(options);
    await h.start(destination(config, tuning));
  }
  /** A fresh destination (new manager session) for the same fake, as a restarted daemon builds it. */
  const destination = (config: Record<string, unknown> = {}, tuning: Partial<Tuning> = {}) =>
    testDestination(marketo, 'mkto', { maxEventsPerUpload: 50, ...tuning }, fake.config({ queueFullRetryMs: 30, ...config }), [fake.clientSecret]);
  const enqueue = (addresses: string[]) => h.enqueue('mkto', addresses);

  it('delivers every lead, one import per upload, each job once', async () => {
    await enqueue(emails(120));
    await run({ autoCompleteAfterPolls: 2 });
    const jobs = await waitForFinalJobs(h.db, 120);
    expect(jobs.every((j) => j.state === 'succeeded' && j.attempts === 1 && j.reason === null)).toBe(true);
    const imports = await h.db.selectFrom('br_imports').selectAll().execute();
    expect(imports.map((i) => [i.state, i.progress])).toEqual([['completed', 100], ['completed', 100], ['completed', 100]]);
    expect([...fake.imports.values()].reduce((sum, imp) => sum + imp.rows, 0)).toBe(120);
    expect(new Set(jobs.map((j) => j.correlationKey)).size).toBe(120);
  });

  it('maps failed and warned rows to their own jobs and retries a row that failed transiently', async () => {
    let locked = true;
    const addresses = [...emails(20), 'bad@invalid', 'warn@example.com', 'lock@example.com', 'dup@invalid', 'dup@invalid'];
    const ids = await enqueue(addresses);
    await run({
      autoCompleteAfterPolls: 1,
      rowOutcome: (row) => {
        if (row.email!.endsWith('@invalid')) return { fail: 'Invalid email address' };
        if (row.email === 'warn@example.com') return { warn: 'Value for field firstName was truncated' };
        if (row.email === 'lock@example.com' && locked) return (locked = false), { fail: 'Lock wait timeout exceeded; try restarting transaction' };
        return undefined;
      },
    });
    const jobs = new Map((await waitForFinalJobs(h.db, addresses.length)).map((j) => [j.id, j]));
    const aborted = [...jobs.values()].filter((j) => j.state === 'aborted');
    expect(aborted.map((j) => j.id).sort()).toEqual([ids.get('bad@invalid'), ids.get('dup@invalid'), String(Number(ids.get('dup@invalid')) + 1)].sort());
    expect(aborted[0]!.reason).toBe('Marketo rejected the row: Invalid email address');
    expect(jobs.get(ids.get('warn@example.com')!)).toMatchObject({ state: 'succeeded', reason: 'Marketo warning: Value for field firstName was truncated' });
    expect(jobs.get(ids.get('lock@example.com')!)).toMatchObject({ state: 'succeeded', attempts: 2, lastError: expect.stringContaining('Lock wait timeout') });
    // The 20 plain leads, and the lock one that went through on its second try.
    expect([...jobs.values()].filter((j) => j.state === 'succeeded' && j.reason === null)).toHaveLength(21);
  });

  it('re-sends the jobs of an import whose results do not add up, and records the mismatch on the import', async () => {
    await enqueue(emails(8));
    await startFake({ autoCompleteAfterPolls: 1 });
    fake.misreport('undercount');
    await h.start(destination({ resultRereads: 0 }));
    await waitFor(() => fake.imports.size >= 1, { message: 'the first import' });
    fake.misreport(undefined); // the re-sent upload is reported faithfully
    const jobs = await waitForFinalJobs(h.db, 8);
    expect(jobs.every((j) => j.state === 'succeeded' && j.attempts === 2)).toBe(true);
    expect(jobs[0]!.lastError).toContain('Marketo counted 1 failed rows but listed 0; outcome unconfirmed, re-sent');
    const codes = await h.db.selectFrom('br_jobs').select(['error_code']).execute();
    expect(new Set(codes.map((c) => c.error_code))).toEqual(new Set(['outcome_unconfirmed']));
    const imports = await h.db.selectFrom('br_imports').select(['unconfirmed_jobs']).orderBy('id').execute();
    expect(imports.map((i) => i.unconfirmed_jobs)).toEqual([8, 0]);
  });

  it('refreshes an expired token mid-run without spending attempts', async () => {
    await enqueue(emails(10));
    await run({});
    await waitFor(() => [...fake.imports.values()].some((i) => i.statusChecks > 0), { message: 'the import is polled' });
    fake.expireTokens();
    fake.completeAll();
    const jobs = await waitForFinalJobs(h.db, 10);
    expect(jobs.every((j) => j.state === 'succeeded' && j.attempts === 1)).toBe(true);
    expect(fake.codesSent).toContain('602');
    expect(fake.tokens.issued).toBe(2);
  });

  it('snoozes a batch on 1016 (queue full) without spending its attempts', async () => {
    const addresses = emails(10);
    const ids = await enqueue(addresses);
    // A snooze longer than the test, so the snoozed state stays to be looked at, and the test
    // brings each next try forward itself (a 30 ms snooze had to be caught in passing, which a
    // busy machine could miss for a minute).
    await run({ queueLimit: 1 }, { queueFullRetryMs: 600_000 }, { maxEventsPerUpload: 5 });
    expect(ids.size).toBe(10);
    // The two batches are sent at once: whichever reaches the queue second finds it full. Between
    // tries its five jobs wait, refunded.
    const snoozed = (times: number) => waitFor(async () => {
      const jobs = (await jobViews(h.db)).filter((j) => /1016/.test(j.lastError ?? ''));
      return fake.codesSent.filter((c) => c === '1016').length >= times && jobs.length === 5 && jobs.every((j) => j.state === 'waiting' && j.attempts === 0);
    }, { message: `one batch to be snoozed by 1016 (${times})` });
    const tryAgainNow = async () => {
      await sql`UPDATE br_uploads SET next_attempt_at = now() WHERE state = 'retry_wait'`.execute(h.db);
      await sql`UPDATE br_jobs SET next_attempt_at = now() WHERE state = 'waiting'`.execute(h.db);
    };
    await snoozed(1);
    await tryAgainNow(); // the queue is still full
    await snoozed(2);
    fake.completeAll(); // the first import leaves the queue
    await tryAgainNow();
    const jobs = await waitForFinalJobs(h.db, 10, { tick: () => fake.completeAll() });
    expect(jobs.every((j) => j.state === 'succeeded' && j.attempts === 1)).toBe(true);
    // One upload went through at once; the snoozed one took at least three attempts.
    const attempts = (await h.db.selectFrom('br_uploads').select(['attempt']).execute()).map((u) => u.attempt).sort((a, b) => a - b);
    expect(attempts).toHaveLength(2);
    expect(attempts[0]).toBe(1);
    expect(attempts[1]).toBeGreaterThan(2);
  });

  it('retries vendor 5xx answers and timeouts, spending one attempt each', async () => {
    await enqueue(emails(5));
    await startFake({ autoCompleteAfterPolls: 2 });
    fake.script(
      { on: 'upload', reply: { status: 503, text: 'Service Unavailable' } },
      { on: 'upload', delayMs: 3000, reply: { status: 504, text: 'too late' } },
      { on: 'status', reply: { status: 500, text: 'oops' } },
    );
    await h.start(destination({ timeoutMs: 1000 }));
    const jobs = await waitForFinalJobs(h.db, 5);
    expect(jobs.every((j) => j.state === 'succeeded' && j.attempts === 3)).toBe(true);
    expect(jobs[0]!.lastError).toContain('did not answer within 1000 ms');
    // The second answer (504 after 3 s) may still be on its way: the client gave up after 1 s.
    expect(fake.requests('upload').map((r) => r.status)).toEqual([503, expect.any(Number), 200]);
    expect(fake.requests('status').map((r) => r.status)).toContain(500);
  });

  it('finishes after a restart between upload and poll with exact per-row outcomes', async () => {
    const addresses = [...emails(12), 'gone@invalid', 'warn@example.com'];
    const ids = await enqueue(addresses);
    const rowOutcome = (row: Record<string, string>) =>
      row.email === 'gone@invalid' ? { fail: 'Invalid email address' } : row.email === 'warn@example.com' ? { warn: 'Lead partition kept' } : undefined;
    await run({ rowOutcome });
    await waitFor(() => [...fake.imports.values()].some((i) => i.statusChecks > 0), { message: 'the first process polls' });
    await h.stop();
    const uploadsBefore = fake.requests('upload').length;

    fake.completeAll();
    await h.start(destination()); // a new process: new session, new token, only the database survives
    const jobs = new Map((await waitForFinalJobs(h.db, addresses.length)).map((j) => [j.id, j]));
    expect(jobs.get(ids.get('gone@invalid')!)).toMatchObject({ state: 'aborted', reason: 'Marketo rejected the row: Invalid email address' });
    expect(jobs.get(ids.get('warn@example.com')!)).toMatchObject({ state: 'succeeded', reason: 'Marketo warning: Lead partition kept' });
    expect([...jobs.values()].filter((j) => j.state === 'succeeded' && j.reason === null)).toHaveLength(12);
    expect(fake.requests('upload')).toHaveLength(uploadsBefore);
    // The new process asked for a token; Marketo handed back the one still valid, as it does.
    expect(fake.requests('token')).toHaveLength(2);
    expect(fake.tokens.issued).toBe(1);
  });

  it('splits an upload at maxFileBytes into several imports and maps results across them', async () => {
    const addresses = [...emails(39), 'last@invalid'];
    const ids = await enqueue(addresses);
    await run({ autoCompleteAfterPolls: 1, rowOutcome: (row) => (row.email === 'last@invalid' ? { fail: 'Invalid email address' } : undefined) }, { maxFileBytes: 500 }, { maxEventsPerUpload: 100 });
    const jobs = await waitForFinalJobs(h.db, 40);
    const files = [...fake.imports.values()];
    expect(files.length).toBeGreaterThan(2);
    for (const file of files) expect(file.fileBytes).toBeLessThanOrEqual(500);
    expect(await h.db.selectFrom('br_uploads').selectAll().execute()).toHaveLength(1);
    expect(await h.db.selectFrom('br_imports').selectAll().execute()).toHaveLength(files.length);
    expect(jobs.filter((j) => j.state === 'aborted').map((j) => j.id)).toEqual([ids.get('last@invalid')]);
    expect(new Set(jobs.map((j) => j.importId)).size).toBe(files.length);
  });
});
