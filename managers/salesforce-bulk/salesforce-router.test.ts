/**
 * salesforce-bulk through the real router and database, against the Salesforce fake: success,
 * per-record failures, results that do not add up, token expiry, the org's API limit, outages, a restart between upload and
 * poll (with a job that failed midway), an overdue job cancelled, and file splitting.
 */
import { describe, expect, it } from 'vitest';
import type { Tuning } from '../../src/tuning.ts';
import { startSalesforceFake, type SalesforceFake, type SalesforceFakeOptions } from './test/fake.ts';
import { emails, routerHarness, waitForFinalJobs } from '../../test/helpers/bulk-jobs.ts';
import { testDestination } from '../../test/helpers/scripted-manager.ts';
import { waitFor } from '../../test/helpers/wait-for.ts';
import salesforce from './index.ts';

const INVALID_EMAIL = 'INVALID_EMAIL_ADDRESS:Email: invalid email address:--';

describe('salesforce-bulk through the router', () => {
  const h = routerHarness();
  let fake: SalesforceFake;

  async function run(options: SalesforceFakeOptions, config: Record<string, unknown> = {}, tuning: Partial<Tuning> = {}): Promise<void> {
    fake = await startSalesforceFake(options);
    h.onCleanup(() => fake.close());
    await h.start(destination(config, tuning));
  }
  /** A fresh destination (new session, so a new token) for the same fake, as a restarted daemon builds it. */
  const destination = (config: Record<string, unknown> = {}, tuning: Partial<Tuning> = {}) =>
    testDestination(salesforce, 'sf', { maxEventsPerUpload: 25, ...tuning }, fake.config(config), [fake.clientSecret]);
  const enqueue = (addresses: string[]) => h.enqueue('sf', addresses);
  const byId = (jobs: Awaited<ReturnType<typeof waitForFinalJobs>>) => new Map(jobs.map((j) => [j.id, j]));

  it('delivers every record, one ingest job per upload, each job once', async () => {
    await enqueue(emails(60));
    await run({ autoCompleteAfterPolls: 2 });
    const jobs = await waitForFinalJobs(h.db, 60);
    expect(jobs.every((j) => j.state === 'succeeded' && j.attempts === 1 && j.reason === null)).toBe(true);
    expect([...fake.jobs.values()].map((j) => [j.state, j.rows.length])).toEqual([['JobComplete', 25], ['JobComplete', 25], ['JobComplete', 10]]);
    const imports = await h.db.selectFrom('br_imports').select(['state', 'progress']).execute();
    expect(imports.every((i) => i.state === 'completed' && i.progress === 100)).toBe(true);
  });

  it('maps failed records to their own jobs and retries a record that was locked', async () => {
    let locked = true;
    const ids = await enqueue([...emails(10), 'bad@invalid', 'locked@example.com', 'twin@invalid', 'twin@invalid']);
    await run({
      autoCompleteAfterPolls: 1,
      rowOutcome: (row) => {
        if (row.Email!.endsWith('@invalid')) return { error: INVALID_EMAIL };
        if (row.Email === 'locked@example.com' && locked) return (locked = false), { error: 'UNABLE_TO_LOCK_ROW:unable to obtain exclusive access to this record:--' };
        return undefined;
      },
    });
    const jobs = byId(await waitForFinalJobs(h.db, 14));
    const aborted = [...jobs.values()].filter((j) => j.state === 'aborted');
    expect(aborted.map((j) => j.id)).toEqual([ids.get('bad@invalid'), ids.get('twin@invalid'), String(Number(ids.get('twin@invalid')) + 1)]);
    expect(aborted.every((j) => j.reason === `Salesforce rejected the record: ${INVALID_EMAIL}`)).toBe(true);
    expect(jobs.get(ids.get('locked@example.com')!)).toMatchObject({ state: 'succeeded', attempts: 2, lastError: expect.stringContaining('UNABLE_TO_LOCK_ROW') });
    expect([...jobs.values()].filter((j) => j.state === 'succeeded')).toHaveLength(11);
  });

  it('gets a new token after INVALID_SESSION_ID mid-run without spending attempts', async () => {
    await enqueue(emails(8));
    await run({});
    await waitFor(() => [...fake.jobs.values()].some((j) => j.stateChecks > 0), { message: 'the job is polled' });
    fake.expireTokens();
    fake.completeAll();
    const jobs = await waitForFinalJobs(h.db, 8);
    expect(jobs.every((j) => j.state === 'succeeded' && j.attempts === 1)).toBe(true);
    expect(fake.requests('status').map((r) => r.status)).toContain(401);
    expect(fake.tokens.issued).toBe(2);
  });

  it('snoozes on REQUEST_LIMIT_EXCEEDED and retries 5xx and timeouts, aborting the half-made job', async () => {
    await enqueue(emails(5));
    fake = await startSalesforceFake({ autoCompleteAfterPolls: 2 });
    h.onCleanup(() => fake.close());
    const limit = { status: 403, json: [{ errorCode: 'REQUEST_LIMIT_EXCEEDED', message: 'TotalRequests Limit exceeded.' }], headers: { 'retry-after': '0' } };
    fake.script(
      { on: 'create', reply: limit, times: 2 },
      { on: 'create', reply: { status: 503, json: [{ errorCode: 'SERVER_UNAVAILABLE', message: 'try later' }] } },
      { on: 'upload', delayMs: 3000, reply: { status: 504, text: 'too late' } },
      { on: 'status', reply: { status: 500, json: [{ errorCode: 'UNKNOWN_EXCEPTION', message: 'oops' }] } },
    );
    await h.start(destination({ timeoutMs: 1000 }));
    const jobs = await waitForFinalJobs(h.db, 5);
    // Two snoozes refunded their attempts; the 503 and the timeout spent one each.
    expect(jobs.every((j) => j.state === 'succeeded' && j.attempts === 3)).toBe(true);
    expect([...fake.jobs.values()].map((j) => j.state)).toEqual(['Aborted', 'JobComplete']);
    expect(fake.requests('create').map((r) => r.status)).toEqual([403, 403, 503, 200, 200]);
  });

  it('finishes after a restart between upload and poll, retrying what a failed job left unprocessed', async () => {
    const ids = await enqueue(['bad@invalid', ...emails(11)]);
    await run({ rowOutcome: (row) => (row.Email === 'bad@invalid' ? { error: INVALID_EMAIL } : undefined) });
    await waitFor(() => [...fake.jobs.values()].some((j) => j.stateChecks > 0), { message: 'the first process polls' });
    await h.stop();
    const [first] = fake.jobs.values();
    fake.failJob(first!.id, 'InternalServerError : batch retried too often', 8);

    await h.start(destination()); // a new process: new session and token, only the database survives
    const jobs = byId(await waitForFinalJobs(h.db, 12, { tick: () => fake.completeAll() }));
    expect(jobs.get(ids.get('bad@invalid')!)).toMatchObject({ state: 'aborted', attempts: 1, reason: `Salesforce rejected the record: ${INVALID_EMAIL}` });
    const rest = [...jobs.values()].filter((j) => j.state === 'succeeded');
    expect(rest.filter((j) => j.attempts === 1)).toHaveLength(7);
    expect(rest.filter((j) => j.attempts === 2 && /did not process this record \(job Failed: InternalServerError/.test(j.lastError ?? ''))).toHaveLength(4);
    expect([...fake.jobs.values()].map((j) => j.rows.length)).toEqual([12, 4]);
  });

  it('an import whose results do not add up: the unlisted insert is aborted with outcome_unconfirmed and counted on the import', async () => {
    const ids = await enqueue(emails(6));
    fake = await startSalesforceFake({ autoCompleteAfterPolls: 1 });
    h.onCleanup(() => fake.close());
    fake.misreport('undercount'); // before the router starts: every job it finishes misreports
    await h.start(destination({ resultReads: 2 }));
    const jobs = byId(await waitForFinalJobs(h.db, 6));
    const first = ids.get(emails(6)[0]!)!;
    expect(jobs.get(first)).toMatchObject({ state: 'aborted', attempts: 1, reason: expect.stringMatching(/^Salesforce counted 1 failures but listed 0 .*outcome unconfirmed/) });
    expect([...jobs.values()].filter((j) => j.state === 'succeeded')).toHaveLength(5);
    const stored = await h.db.selectFrom('br_jobs').select(['id', 'error_code']).where('id', '=', first).executeTakeFirstOrThrow();
    expect(stored.error_code).toBe('outcome_unconfirmed');
    expect((await h.db.selectFrom('br_imports').select('unconfirmed_jobs').execute()).map((i) => i.unconfirmed_jobs)).toEqual([1]);
  });

  it('aborts an ingest job that outlives maxImportDurationMs and sends its records again', async () => {
    await enqueue(emails(3));
    await run({}, {}, { maxImportDurationMs: 300 });
    await waitFor(() => fake.jobs.size >= 2, { message: 'the overdue job to be replaced' });
    const jobs = await waitForFinalJobs(h.db, 3, { tick: () => fake.completeAll() });
    expect(jobs.every((j) => j.state === 'succeeded' && j.attempts >= 2)).toBe(true);
    expect([...fake.jobs.values()][0]!.state).toBe('Aborted');
  });

  it('splits an upload at maxFileBytes into several ingest jobs and maps results across them', async () => {
    const ids = await enqueue([...emails(29), 'last@invalid']);
    await run({ autoCompleteAfterPolls: 1, rowOutcome: (row) => (row.Email === 'last@invalid' ? { error: INVALID_EMAIL } : undefined) }, { maxFileBytes: 300 }, { maxEventsPerUpload: 100 });
    const jobs = await waitForFinalJobs(h.db, 30);
    const files = [...fake.jobs.values()];
    expect(files.length).toBeGreaterThan(2);
    for (const file of files) expect(file.uploadBytes).toBeLessThanOrEqual(300);
    expect(await h.db.selectFrom('br_uploads').selectAll().execute()).toHaveLength(1);
    expect(jobs.filter((j) => j.state === 'aborted').map((j) => j.id)).toEqual([ids.get('last@invalid')]);
    expect(new Set(jobs.map((j) => j.importId)).size).toBe(files.length);
  });
});
