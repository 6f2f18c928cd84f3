import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { insertJobs } from '../../src/store/jobs.repository.ts';
import { RetryableError, SnoozeError } from '../../src/manager/errors.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { sampleEvents } from '../helpers/router.ts';
import { scriptedManager, testDestination } from '../helpers/scripted-manager.ts';
import { routerFixture, type RouterFixture } from './fixture.ts';

type TestDb = RouterFixture['t'];

async function statesOf(t: TestDb, destinationId = 'dest-1') {
  const { rows } = await sql<{ state: string; n: string }>`
    SELECT state, count(*) AS n FROM br_jobs WHERE destination_id = ${destinationId} GROUP BY state`.execute(t.db);
  return Object.fromEntries(rows.map((r) => [r.state, Number(r.n)]));
}

describe('router delivery', () => {
  const { t, start } = routerFixture();

  it('delivers every job once, in batches bounded by maxEventsPerUpload', async () => {
    const { manager, uploads } = scriptedManager();
    await insertJobs(t.db, 'dest-1', sampleEvents(250));
    start([testDestination(manager, 'dest-1', { maxEventsPerUpload: 100 })]);
    await waitFor(async () => (await statesOf(t)).succeeded === 250, { message: 'all 250 jobs succeed' });
    expect(uploads.every((u) => u.jobIds.length <= 100)).toBe(true);
    const sent = uploads.flatMap((u) => u.rows.map((r) => r.id));
    expect(new Set(sent).size).toBe(250);
    expect(sent.length).toBe(250);
  });

  it('bounds a batch by bytes as well as by count', async () => {
    const { manager, uploads } = scriptedManager();
    const big = 'x'.repeat(1000);
    await insertJobs(t.db, 'dest-1', sampleEvents(20, { big }));
    start([testDestination(manager, 'dest-1', { maxBytesPerUpload: 5000 })]);
    await waitFor(async () => (await statesOf(t)).succeeded === 20, { message: 'all jobs succeed' });
    expect(Math.max(...uploads.map((u) => u.jobIds.length))).toBeLessThanOrEqual(4);
  });

  it('waits uploadIntervalMs before flushing a partial batch', async () => {
    const { manager, uploads } = scriptedManager();
    start([testDestination(manager, 'dest-1', { maxEventsPerUpload: 1000, uploadIntervalMs: 600 })]);
    const enqueuedAt = Date.now();
    await insertJobs(t.db, 'dest-1', sampleEvents(10));
    await waitFor(() => uploads.length > 0, { message: 'the partial batch is flushed' });
    expect(uploads[0]!.startedAt - enqueuedAt).toBeGreaterThanOrEqual(550);
    expect(uploads[0]!.jobIds).toHaveLength(10);
  });

  it('aborts only the bad event of a batch, with the reason', async () => {
    const { manager, uploads } = scriptedManager();
    const events = sampleEvents(5);
    events[2] = JSON.stringify({ id: 'evt-bad', bad: true });
    const ids = await insertJobs(t.db, 'dest-1', events);
    start([testDestination(manager)]);
    await waitFor(async () => (await statesOf(t)).succeeded === 4, { message: 'the four good jobs succeed' });
    const bad = await t.db.selectFrom('br_jobs').selectAll().where('id', '=', ids[2]!).executeTakeFirstOrThrow();
    expect(bad.state).toBe('aborted');
    expect(bad.reason).toContain('field "bad" is set');
    expect(uploads.flatMap((u) => u.jobIds)).not.toContain(ids[2]);
  });

  it('stages through a file when an upload is over the memory limit, and removes the file after', async () => {
    const { manager, uploads } = scriptedManager();
    const stagingDir = mkdtempSync(join(tmpdir(), 'br-staging-file-'));
    await insertJobs(t.db, 'dest-1', sampleEvents(30));
    start([testDestination(manager, 'dest-1', { maxEventsPerUpload: 10 })], { stagingDir, stagingMemoryBytes: 0 });
    await waitFor(async () => (await statesOf(t)).succeeded === 30, { message: 'all 30 jobs succeed' });
    expect(uploads.flatMap((u) => u.rows.map((r) => r.id)).sort()).toEqual(sampleEvents(30).map((e) => JSON.parse(e).id).sort());
    // Files are removed right after the outcome is recorded, so just after the jobs turn final.
    await waitFor(() => readdirSync(join(stagingDir, 'dest-1')).length === 0, { message: 'the staging files are removed' });
    expect(readdirSync(join(stagingDir, 'dest-1'))).toEqual([]);
  });

  it('passes stored events through byte for byte when the manager has no transform', async () => {
    const { manager, uploads } = scriptedManager({ passThrough: true });
    expect(manager.passesEventsThrough).toBe(true);
    const accepted = ['{"id":"evt-1","name":"Zoë"}', '{ "id" : "evt-2",  "spaced": [1, 2] }'];
    const ids = await insertJobs(t.db, 'dest-1', accepted);
    // Rows written by hand in SQL, not through ingest: one spans lines, one is not an object.
    const [multiLine, notObject] = await insertJobs(t.db, 'dest-1', ['{"placeholder":1}', '{"placeholder":2}']);
    await sql`UPDATE br_job_payloads SET payload = ${'{\n  "id": "evt-3"\n}'} WHERE job_id = ${multiLine}`.execute(t.db);
    await sql`UPDATE br_job_payloads SET payload = ${'[1, 2, 3]'} WHERE job_id = ${notObject}`.execute(t.db);
    start([testDestination(manager)]);
    await waitFor(async () => (await statesOf(t)).succeeded === 3, { message: 'the three objects are delivered' });
    const sent = new Map(uploads.flatMap((u) => u.jobIds.map((id, i) => [id, u.texts[i]!] as const)));
    expect(sent.get(ids[0]!)).toBe(accepted[0]);
    expect(sent.get(ids[1]!)).toBe(accepted[1]);
    expect(sent.get(multiLine!)).toBe('{"id":"evt-3"}');
    expect(sent.has(notObject!)).toBe(false);
    const bad = await t.db.selectFrom('br_jobs').selectAll().where('id', '=', notObject!).executeTakeFirstOrThrow();
    expect(bad).toMatchObject({ state: 'aborted', reason: expect.stringContaining('not a JSON object') });
  });

  it('retries a failing upload as the same upload with backoff, then aborts once both limits are spent', async () => {
    const { manager, uploads } = scriptedManager({
      upload: async () => {
        throw new RetryableError('vendor answered 503 Service Unavailable');
      },
    });
    const [id] = await insertJobs(t.db, 'dest-1', sampleEvents(1));
    start([testDestination(manager, 'dest-1', { maxAttempts: 3, retryWindowMs: 300, minBackoffMs: 40, maxBackoffMs: 200 })]);
    const job = await waitFor(
      async () => {
        const row = await t.db.selectFrom('br_jobs').selectAll().where('id', '=', id!).executeTakeFirstOrThrow();
        return row.state === 'aborted' ? row : undefined;
      },
      { message: 'the job is aborted after its attempts and window', timeoutMs: 15000 },
    );
    expect(job.attempts).toBeGreaterThanOrEqual(3);
    expect(job.reason).toMatch(/^gave up after \d+ attempts since .*: vendor answered 503/);
    expect(job.finished_at!.getTime() - job.first_failed_at!.getTime()).toBeGreaterThanOrEqual(300);
    // Every attempt re-sent the same upload (same id, attempt counting up), spaced by backoff.
    expect(new Set(uploads.map((u) => u.uploadId)).size).toBe(1);
    expect(uploads.map((u) => u.attempt)).toEqual(uploads.map((_, i) => i + 1));
    const gaps = uploads.slice(1).map((u, i) => u.startedAt - uploads[i]!.startedAt);
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(15);
  });

  it('keeps retrying while the window is open even after maxAttempts', async () => {
    let calls = 0;
    const { manager } = scriptedManager({
      upload: async (batch) => {
        calls += 1;
        if (calls < 6) throw new RetryableError('temporary');
        return { outcomes: batch.jobIds.map((jobId) => ({ jobId, kind: 'succeeded' as const })) };
      },
    });
    await insertJobs(t.db, 'dest-1', sampleEvents(1));
    start([testDestination(manager, 'dest-1', { maxAttempts: 2, retryWindowMs: 60_000, minBackoffMs: 5, maxBackoffMs: 10 })]);
    await waitFor(async () => (await statesOf(t)).succeeded === 1, { message: 'the job eventually succeeds' });
    expect(calls).toBe(6);
  });

  it('snoozes without spending attempts', async () => {
    let calls = 0;
    const { manager } = scriptedManager({
      upload: async (batch) => {
        calls += 1;
        if (calls <= 3) throw new SnoozeError('import queue is full (1016)', 20);
        return { outcomes: batch.jobIds.map((jobId) => ({ jobId, kind: 'succeeded' as const })) };
      },
    });
    const [id] = await insertJobs(t.db, 'dest-1', sampleEvents(1));
    start([testDestination(manager, 'dest-1', { maxAttempts: 1, retryWindowMs: 0 })]);
    await waitFor(async () => (await statesOf(t)).succeeded === 1, { message: 'the job succeeds after the snoozes' });
    const job = await t.db.selectFrom('br_jobs').selectAll().where('id', '=', id!).executeTakeFirstOrThrow();
    expect(job.attempts).toBe(1);
    expect(job.last_error).toContain('queue is full');
  });

  it('applies per-job outcomes: retry detaches a job into a later batch, abort keeps the reason', async () => {
    let first = true;
    const { manager, uploads } = scriptedManager({
      upload: async (batch) => {
        const [a, b, ...rest] = batch.jobIds;
        if (!first) return { outcomes: batch.jobIds.map((jobId) => ({ jobId, kind: 'succeeded' as const })) };
        first = false;
        return {
          outcomes: [
            { jobId: a!, kind: 'retry', reason: 'row throttled' },
            { jobId: b!, kind: 'aborted', reason: 'email is not valid' },
            ...rest.map((jobId) => ({ jobId, kind: 'succeeded' as const, warning: 'field truncated' })),
          ],
        };
      },
    });
    const ids = await insertJobs(t.db, 'dest-1', sampleEvents(4));
    start([testDestination(manager)]);
    await waitFor(async () => (await statesOf(t)).succeeded === 3, { message: 'three jobs succeed' });
    const rows = await t.db.selectFrom('br_jobs').selectAll().orderBy('id').execute();
    expect(rows.map((r) => r.state)).toEqual(['succeeded', 'aborted', 'succeeded', 'succeeded']);
    expect(rows[1]!.reason).toBe('email is not valid');
    expect(rows[2]!.reason).toBe('field truncated');
    expect(uploads[1]!.uploadId).not.toBe(uploads[0]!.uploadId);
    expect(uploads[1]!.jobIds).toEqual([ids[0]]);
  });

  it('retries jobs the manager forgot to report', async () => {
    let first = true;
    const { manager } = scriptedManager({
      upload: async (batch) => {
        const ids = first ? batch.jobIds.slice(1) : batch.jobIds;
        first = false;
        return { outcomes: ids.map((jobId) => ({ jobId, kind: 'succeeded' as const })) };
      },
    });
    const ids = await insertJobs(t.db, 'dest-1', sampleEvents(3));
    start([testDestination(manager)]);
    await waitFor(async () => (await statesOf(t)).succeeded === 3, { message: 'all succeed in the end' });
    const forgotten = await t.db.selectFrom('br_jobs').selectAll().where('id', '=', ids[0]!).executeTakeFirstOrThrow();
    expect(forgotten.attempts).toBe(2);
    expect(forgotten.last_error).toBe('manager did not report an outcome for this job');
  });
});
