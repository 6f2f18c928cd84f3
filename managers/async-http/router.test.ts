/**
 * async-http through the real router and PostgreSQL, against the async-operations fake: the final
 * state of every job for synchronous and asynchronous answers, failures, unknown statuses,
 * throttling and a restart between submit and poll.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { insertJobs } from '../../src/store/jobs.repository.ts';
import type { Router } from '../../src/router/router.ts';
import { startAsyncOpsFake, type AsyncOpsFake, type AsyncOpsFakeOptions } from './test/fake.ts';
import { databaseForFile } from '../../test/helpers/file-database.ts';
import { idsIn, jobRows, waitForFinal } from '../../test/helpers/job-states.ts';
import { startRouter } from '../../test/helpers/router.ts';
import { testDestination } from '../../test/helpers/scripted-manager.ts';
import { waitFor } from '../../test/helpers/wait-for.ts';
import manager from './index.ts';

const TOKEN = 'tok_router_async_ops';

/** `n` operations; `edit(i)` adds fields that steer the fake (`fail`, `reportStatus`). */
const events = (n: number, edit: (i: number) => Record<string, unknown> = () => ({})) =>
  Array.from({ length: n }, (_, i) => JSON.stringify({ id: `evt-${i}`, sku: `SKU-${i}`, ...edit(i) }));

describe('async-http through the router', () => {
  // One database for the file, emptied before each test: creating one per test was this file's
  // slowest step and once outlasted the hook timeout on a busy server.
  const t = databaseForFile();
  let fake: AsyncOpsFake;
  let router: Router | undefined;
  afterEach(async () => {
    await router?.stop();
    router = undefined;
    await fake?.close();
  });

  async function serve(options: AsyncOpsFakeOptions) {
    fake = await startAsyncOpsFake({ token: TOKEN, ...options });
  }
  /** Starts a router (a fresh process: new session) for the current fake. */
  function start(config: Record<string, unknown> = {}) {
    const raw = { baseUrl: fake.url, headers: { Authorization: `Bearer ${TOKEN}` }, pollIntervalMs: 50, maxOperationsPerRequest: 4, ...config };
    router = startRouter(t.db, [testDestination(manager, 'dest-1', {}, raw, [TOKEN])]);
  }
  const byMethod = (method: string) => fake.requests().filter((r) => r.method === method);

  it('applies a synchronous 200 answer item by item, without polling', async () => {
    await serve({ answer: 'sync' });
    const ids = await insertJobs(t.db, 'dest-1', events(10, (i) => (i === 3 || i === 8 ? { fail: 'OUT_OF_STOCK' } : {})));
    start();
    const rows = await waitForFinal(t.db);
    expect(idsIn(rows, 'aborted')).toEqual([ids[3], ids[8]]);
    expect(rows.find((r) => r.id === ids[8])!.reason).toBe('operation 1 of 2 failed: OUT_OF_STOCK: operation 0 rejected by the service');
    expect(byMethod('POST').map((r) => JSON.parse(r.body).operations.length)).toEqual([4, 4, 2]);
    expect(byMethod('GET')).toHaveLength(0);
  });

  it('follows one operation per item to the end and maps failures and unknown statuses to their jobs', async () => {
    await serve({ answer: 'items' });
    const ids = await insertJobs(t.db, 'dest-1', events(6, (i) => (i === 1 ? { fail: 'INVALID_SKU' } : i === 4 ? { reportStatus: 'archived' } : {})));
    start();
    const rows = await waitForFinal(t.db);
    expect(idsIn(rows, 'succeeded')).toEqual([ids[0], ids[2], ids[3], ids[5]]);
    expect(rows.find((r) => r.id === ids[1])!.reason).toMatch(/^operation op-\d+ failed: INVALID_SKU/);
    expect(rows.find((r) => r.id === ids[4])!.reason).toMatch(/^operation op-\d+ reported unknown status "archived" \(UNKNOWN_STATUS\)/);
    expect(rows.every((r) => /^op-\d+$/.test(r.correlation_key ?? ''))).toBe(true);
  });

  it('follows one operation for the batch: a partial result per item, a failed batch for every job', async () => {
    await serve({ answer: 'batch' });
    const ids = await insertJobs(t.db, 'dest-1', events(8, (i) => (i === 2 ? { fail: 'DUPLICATE' } : i >= 4 ? { fail: 'REJECTED' } : {})));
    start();
    const rows = await waitForFinal(t.db);
    // First request (0–3): partial, item 2 failed. Second (4–7): every item failed, so the batch did.
    expect(idsIn(rows, 'succeeded')).toEqual([ids[0], ids[1], ids[3]]);
    expect(rows.find((r) => r.id === ids[2])!.reason).toBe('item 2 of operation op-1 failed: DUPLICATE: operation 2 rejected by the service');
    expect(rows.find((r) => r.id === ids[6])!.reason).toBe('vendor import failed: operation op-2 failed: BATCH_FAILED: all 4 operations failed');
  });

  it('honours Retry-After on a 429, when submitting and when checking an operation', async () => {
    await serve({ answer: 'items' });
    fake.script('submit', { status: 429, retryAfter: 1 });
    fake.script('poll', { status: 503, retryAfter: 1 });
    await insertJobs(t.db, 'dest-1', events(1)); // one operation: its status checks are sequential
    start();
    const rows = await waitForFinal(t.db);
    expect(idsIn(rows, 'succeeded')).toHaveLength(1);
    expect(rows[0]!.attempts).toBe(2);
    expect(rows[0]!.last_error).toMatch(/answered 429/);
    const [throttled, accepted] = byMethod('POST');
    expect(accepted!.at - throttled!.at).toBeGreaterThanOrEqual(1_000);
    const [unavailable, next] = byMethod('GET');
    expect(next!.at - unavailable!.at).toBeGreaterThanOrEqual(1_000);
  });

  it('retries the whole upload under the same keys when a chunk times out after the service executed it', async () => {
    await serve({ answer: 'items' });
    // Chunk 1 goes through; chunk 2 is executed but its answer is lost (a gateway timeout).
    fake.script('submit', { executed: true }, { executed: true, status: 504 });
    const ids = await insertJobs(t.db, 'dest-1', events(10));
    start();
    const rows = await waitForFinal(t.db);
    expect(idsIn(rows, 'succeeded')).toEqual(ids);
    // Re-sent as one upload, each chunk carries its first key again: the service replays chunks 1
    // and 2 and executes chunk 3 once. Retried job by job, chunk 2 would have run twice.
    expect([...fake.executions().values()].every((n) => n === 1)).toBe(true);
    expect(fake.executions().size).toBe(10);
    const keys = byMethod('POST').map((r) => r.headers['idempotency-key']);
    expect(keys).toHaveLength(5); // 1, 2 (504); then 1 (replayed), 2 (replayed), 3
    expect(keys.slice(2, 4)).toEqual(keys.slice(0, 2));
    expect(byMethod('POST').slice(2, 4).every((r) => r.replayed)).toBe(true);
    expect(rows.every((r) => r.attempts === 2)).toBe(true);
  });

  it('retries the whole upload when a chunk after an accepted one is refused with a 503', async () => {
    await serve({ answer: 'sync' });
    fake.script('submit', { executed: true }, { status: 503 });
    const ids = await insertJobs(t.db, 'dest-1', events(6));
    start();
    const rows = await waitForFinal(t.db);
    expect(idsIn(rows, 'succeeded')).toEqual(ids);
    expect([...fake.executions().values()]).toEqual([1, 1, 1, 1, 1, 1]);
    const posts = byMethod('POST');
    expect(posts.map((r) => r.status)).toEqual([200, 503, 200, 200]);
    expect(posts[2]!.replayed).toBe(true);
    expect(posts[2]!.headers['idempotency-key']).toBe(posts[0]!.headers['idempotency-key']);
    expect(rows.find((r) => r.id === ids[0])!.last_error).toMatch(/answered 503/);
  });

  it('checks operations every pollIntervalMs', async () => {
    await serve({ answer: 'batch' });
    await insertJobs(t.db, 'dest-1', events(1));
    start({ pollIntervalMs: 300 });
    await waitForFinal(t.db);
    const times = fake.requests().map((r) => r.at);
    expect(times).toHaveLength(3); // submit; a check that finds it processing; one that finds it completed
    for (let i = 1; i < times.length; i += 1) expect(times[i]! - times[i - 1]!).toBeGreaterThanOrEqual(290);
  });

  it('finishes after a restart between submit and poll, by the persisted operation ids', async () => {
    await serve({ answer: 'items', progression: 'manual' });
    const ids = await insertJobs(t.db, 'dest-1', events(5, (i) => (i === 2 ? { fail: 'LATE_REJECT' } : {})));
    start();
    await waitFor(async () => (await jobRows(t.db)).every((r) => r.state === 'importing'), { message: 'jobs importing' });
    await waitFor(() => byMethod('GET').length > 0, { message: 'the first router checks an operation' });
    await router!.stop();

    // A new process: a new session and router; only the database and the service remain.
    await fake.finishAll();
    start();
    const rows = await waitForFinal(t.db);
    expect(idsIn(rows, 'aborted')).toEqual([ids[2]]);
    expect(rows.find((r) => r.id === ids[2])!.reason).toMatch(/failed: LATE_REJECT/);
    expect(byMethod('POST')).toHaveLength(2); // 4 + 1 operations, each sent once
  });
});
