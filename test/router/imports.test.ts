import { describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { insertJobs } from '../../src/store/jobs.repository.ts';
import type { JobOutcome, OpenImport, PollResult } from '../../src/manager/contract.ts';
import { RetryableError } from '../../src/manager/errors.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { sampleEvents } from '../helpers/router.ts';
import { scriptedManager, testDestination } from '../helpers/scripted-manager.ts';
import { routerFixture, type RouterFixture } from './fixture.ts';

type TestDb = RouterFixture['t'];

/**
 * A stand-in vendor that lives outside any router, like a real bulk API: imports are created by
 * upload, finished when the test says so, and report rejected rows by the row's correlation key.
 */
class FakeVendor {
  readonly imports = new Map<string, { done: boolean; rejectKeys: Set<string>; polls: number }>();
  #next = 1;
  create(rejectKeys: string[] = []): string {
    const id = `imp-${this.#next++}`;
    this.imports.set(id, { done: false, rejectKeys: new Set(rejectKeys), polls: 0 });
    return id;
  }
  poll(open: OpenImport): PollResult {
    const imp = this.imports.get(String(open.handle.vendorId));
    if (!imp) return { status: 'failed', retryable: false, reason: `unknown import ${String(open.handle.vendorId)}` };
    imp.polls += 1;
    if (!imp.done) return { status: 'in_progress', progress: 50 };
    return { status: 'completed', hasRecordFailures: imp.rejectKeys.size > 0 };
  }
}

function asyncManager(vendor: FakeVendor, rejectEventIds: string[] = [], maxConcurrentImports?: number) {
  return scriptedManager({
    ...(maxConcurrentImports ? { limits: { maxConcurrentImports } } : {}),
    upload: async (batch, _ctx, rows) => {
      const jobs = batch.jobIds.map((jobId, i) => ({ jobId, correlationKey: String(rows[i]!.id) }));
      const vendorId = vendor.create(rejectEventIds);
      return { outcomes: [], imports: [{ handle: { vendorId }, jobs }] };
    },
    poll: async (open) => vendor.poll(open),
    getUploadStats: async (open, jobs): Promise<JobOutcome[]> => {
      const imp = vendor.imports.get(String(open.handle.vendorId))!;
      return jobs.map((job) =>
        job.correlationKey !== null && imp.rejectKeys.has(job.correlationKey)
          ? { jobId: job.jobId, kind: 'aborted', reason: `vendor rejected row ${job.correlationKey}: invalid email` }
          : { jobId: job.jobId, kind: 'succeeded' },
      );
    },
  });
}

describe('poll loop', () => {
  const { t, start, stopRouters } = routerFixture();

  it('resumes polling after a restart and maps per-record failures by persisted correlation keys', async () => {
    const vendor = new FakeVendor();
    const first = asyncManager(vendor, ['evt-3', 'evt-7']);
    await insertJobs(t.db, 'dest-1', sampleEvents(10));
    start([testDestination(first.manager)]);
    await waitFor(async () => {
      const { rows } = await sql<{ n: string }>`SELECT count(*) AS n FROM br_jobs WHERE state = 'importing'`.execute(t.db);
      return Number(rows[0]!.n) === 10;
    }, { message: 'jobs reach importing' });
    await waitFor(() => [...vendor.imports.values()].some((i) => i.polls > 0), { message: 'the first router polls' });
    await stopRouters();

    // A new process: new manager instance, nothing in memory but the database.
    const second = asyncManager(vendor, ['evt-3', 'evt-7']);
    for (const imp of vendor.imports.values()) imp.done = true;
    start([testDestination(second.manager)]);
    await waitFor(async () => {
      const { rows } = await sql<{ n: string }>`SELECT count(*) AS n FROM br_jobs WHERE state IN ('succeeded','aborted')`.execute(t.db);
      return Number(rows[0]!.n) === 10;
    }, { message: 'every job reaches a final state after the restart' });
    const aborted = await sql<{ correlation_key: string; reason: string }>`
      SELECT correlation_key, reason FROM br_jobs WHERE state = 'aborted' ORDER BY id`.execute(t.db);
    expect(aborted.rows.map((r) => r.correlation_key)).toEqual(['evt-3', 'evt-7']);
    expect(aborted.rows[0]!.reason).toBe('vendor rejected row evt-3: invalid email');
    expect(second.uploads).toHaveLength(0);
    const upload = await t.db.selectFrom('br_uploads').selectAll().executeTakeFirstOrThrow();
    expect(upload.state).toBe('finished');
  });

  it('fails an import that runs past maxImportDurationMs and retries its jobs', async () => {
    const vendor = new FakeVendor();
    const { manager, uploads } = asyncManager(vendor);
    const [id] = await insertJobs(t.db, 'dest-1', sampleEvents(1));
    // The import ages by moving its start back, not by waiting: a short limit raced the first
    // poll on a busy machine (expired before any progress was recorded, "last progress unknown%").
    start([testDestination(manager, 'dest-1', { maxImportDurationMs: 60_000 })]);
    await waitFor(async () => {
      const row = await t.db.selectFrom('br_imports').select('progress').executeTakeFirst();
      return row?.progress === 50;
    }, { message: 'the import is polled and its progress recorded' });
    await sql`UPDATE br_imports SET started_at = started_at - interval '61 seconds'`.execute(t.db);
    await waitFor(() => uploads.length >= 2, { message: 'the overdue import is retried with a new upload' });
    const job = await t.db.selectFrom('br_jobs').selectAll().where('id', '=', id!).executeTakeFirstOrThrow();
    expect(job.last_error).toMatch(/import did not finish within 60 s \(maxImportDurationMs\); last progress 50%/);
    const failed = await t.db.selectFrom('br_imports').selectAll().where('state', '=', 'failed').execute();
    expect(failed.length).toBeGreaterThanOrEqual(1);
  });

  it('never opens more imports than maxConcurrentImports', async () => {
    const vendor = new FakeVendor();
    const { manager, uploads } = asyncManager(vendor, [], 2);
    await insertJobs(t.db, 'dest-1', sampleEvents(50));
    start([testDestination(manager, 'dest-1', { maxEventsPerUpload: 10, uploadConcurrency: 5 })]);
    await waitFor(() => uploads.length === 2, { message: 'two imports open' });
    // While both stay open, the router must hold the rest back; poll a few rounds to give it the chance to misbehave.
    await waitFor(() => [...vendor.imports.values()].every((i) => i.polls >= 3), { message: 'several poll rounds pass' });
    expect(uploads).toHaveLength(2);
    for (const imp of vendor.imports.values()) imp.done = true;
    await waitFor(async () => {
      const { rows } = await sql<{ n: string }>`SELECT count(*) AS n FROM br_jobs WHERE state = 'succeeded'`.execute(t.db);
      for (const imp of vendor.imports.values()) imp.done = true;
      return Number(rows[0]!.n) === 50;
    }, { message: 'everything is delivered two imports at a time' });
    expect(uploads).toHaveLength(5);
  });

  it('asks again when reading per-record results fails transiently, then applies them', async () => {
    const vendor = new FakeVendor();
    const base = asyncManager(vendor, ['evt-1']);
    let statsCalls = 0;
    const { manager } = scriptedManager({
      upload: async (batch, ctx) => base.manager.upload(batch as never, ctx),
      poll: async (open) => {
        for (const imp of vendor.imports.values()) imp.done = true;
        return vendor.poll(open);
      },
      getUploadStats: async (open, jobs, ctx) => {
        statsCalls += 1;
        if (statsCalls === 1) throw new RetryableError('result file answered 503');
        return base.manager.getUploadStats(open, jobs, ctx);
      },
    });
    await insertJobs(t.db, 'dest-1', sampleEvents(3));
    // A long lease: waiting for it to lapse (instead of re-asking) would miss the deadline below.
    start([testDestination(manager)], { leaseMs: 30_000, heartbeatMs: 10_000 });
    await waitFor(async () => {
      const { rows } = await sql<{ n: string }>`SELECT count(*) AS n FROM br_jobs WHERE state IN ('succeeded','aborted')`.execute(t.db);
      return Number(rows[0]!.n) === 3;
    }, { message: 'every job is final after the second read' });
    expect(statsCalls).toBe(2);
    const aborted = await t.db.selectFrom('br_jobs').select(['correlation_key']).where('state', '=', 'aborted').execute();
    expect(aborted.map((r) => r.correlation_key)).toEqual(['evt-1']);
  });
});
