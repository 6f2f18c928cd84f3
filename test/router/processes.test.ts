/**
 * Several processes against one database: concurrent claims, a killed worker, signals.
 * These need a real PostgreSQL server (independent connections, child processes).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Kysely, PostgresDialect, sql } from 'kysely';
import { createPool } from '../../src/db/connect.ts';
import { insertJobs } from '../../src/store/jobs.repository.ts';
import type { Database } from '../../src/db/schema.ts';
import { abortableDelay } from '../../src/util/delay.ts';
import { requiresServer, requiresServerReason } from '../helpers/database.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { sampleEvents } from '../helpers/router.ts';
import { routerFixture, type RouterFixture } from './fixture.ts';
import { scriptedManager, testDestination } from '../helpers/scripted-manager.ts';
import { spawnTsChild } from '../helpers/child-process.ts';

type TestDb = RouterFixture['t'];

async function count(t: TestDb, where: ReturnType<typeof sql>) {
  const { rows } = await sql<{ n: string }>`SELECT count(*) AS n FROM br_jobs WHERE ${where}`.execute(t.db);
  return Number(rows[0]!.n);
}

describe.skipIf(requiresServer)(requiresServer ? `several processes, skipped: ${requiresServerReason}` : "several processes", () => {
  const { t, start, stopRouters } = routerFixture();
  const extraDbs: Kysely<Database>[] = [];
  afterEach(async () => {
    // The routers first: some of them run on these extra connections.
    await stopRouters();
    await Promise.all(extraDbs.splice(0).map((d) => d.destroy()));
  });

  function secondConnection(): Kysely<Database> {
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: createPool({ connectionString: t.url, max: 4 }) }) });
    extraDbs.push(db);
    return db;
  }

  it('two routers share the work and never send a job twice or at the same time', async () => {
    const inFlight = new Set<string>();
    const overlaps: string[] = [];
    const delivered: string[] = [];
    let bStarted!: () => void;
    const bHasStarted = new Promise<void>((resolve) => (bStarted = resolve));
    const uploadThen = (before: () => Promise<void>) => async (batch: { jobIds: readonly string[] }) => {
      await before();
      for (const id of batch.jobIds) (inFlight.has(id) ? overlaps : []).push(id), inFlight.add(id);
      await abortableDelay(5);
      for (const id of batch.jobIds) inFlight.delete(id), delivered.push(id);
      return { outcomes: batch.jobIds.map((jobId) => ({ jobId, kind: 'succeeded' as const })) };
    };
    // A process whose every upload slot is busy keeps its slots while its backlog lasts (each
    // upload's end claims the next in the same statement), so with equal limits the router that
    // starts first can take all the work. Each process applies its own uploadConcurrency to the
    // destination's uploads in flight across processes: B's 8 leave it 4 slots A's 4 cannot take,
    // and A's uploads wait until B has one under way, so the two provably send at the same time.
    const a = scriptedManager({ upload: uploadThen(() => bHasStarted) });
    const b = scriptedManager({ upload: uploadThen(async () => bStarted()) });
    await insertJobs(t.db, 'dest-1', sampleEvents(3000));
    start([testDestination(a.manager, 'dest-1', { maxEventsPerUpload: 50, uploadConcurrency: 4 })], { workerId: 'router-a' });
    start([testDestination(b.manager, 'dest-1', { maxEventsPerUpload: 50, uploadConcurrency: 8 })], { workerId: 'router-b' }, secondConnection());
    await waitFor(async () => (await count(t, sql`state = 'succeeded'`)) === 3000, { message: 'all jobs delivered', timeoutMs: 30_000 });
    expect(overlaps).toEqual([]);
    expect(delivered).toHaveLength(3000);
    expect(new Set(delivered).size).toBe(3000);
    expect(a.uploads.length).toBeGreaterThan(0);
    expect(b.uploads.length).toBeGreaterThan(0);
  });

  it('recovers the upload of a kill -9ed worker after its lease expires, re-sending it under the same id', async () => {
    await insertJobs(t.db, 'dest-1', sampleEvents(20));
    const { child, exited } = await spawnTsChild('./child-router.ts', {
      DATABASE_URL: t.url, CHILD_MODE: 'hang', CHILD_WORKER_ID: 'doomed', CHILD_LEASE_MS: '600',
    });
    const upload = await waitFor(
      () => t.db.selectFrom('br_uploads').selectAll().where('lease_owner', '=', 'doomed').where('state', '=', 'uploading').executeTakeFirst(),
      { message: 'the child claims an upload' },
    );
    child.kill('SIGKILL');
    expect(await exited).toBeNull();
    const survivor = scriptedManager();
    start([testDestination(survivor.manager)], { workerId: 'survivor', sweepIntervalMs: 100 });
    await waitFor(async () => (await count(t, sql`state = 'succeeded'`)) === 20, { message: 'the survivor delivers the jobs' });
    expect(survivor.uploads.map((u) => [u.uploadId, u.attempt])).toEqual([[upload.id, 2]]);
    const job = await t.db.selectFrom('br_jobs').selectAll().limit(1).executeTakeFirstOrThrow();
    expect(job.attempts).toBe(2);
    expect(job.last_error).toContain('worker doomed stopped renewing its lease');
  });

  it('a zombie whose lease expired cannot record over the new owner', async () => {
    await insertJobs(t.db, 'dest-1', sampleEvents(5));
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const zombie = scriptedManager({
      upload: async (batch) => {
        await gate;
        return { outcomes: batch.jobIds.map((jobId) => ({ jobId, kind: 'aborted' as const, reason: 'zombie verdict' })) };
      },
    });
    // Heartbeat slower than the lease: the zombie's lease lapses while it is stuck.
    const zombieRouter = start([testDestination(zombie.manager, 'dest-1', { uploadConcurrency: 1 })], { workerId: 'zombie', leaseMs: 300, heartbeatMs: 60_000, sweepIntervalMs: 60_000 });
    await waitFor(() => zombie.uploads.length === 1, { message: 'the zombie starts sending' });
    const fresh = scriptedManager();
    start([testDestination(fresh.manager)], { workerId: 'fresh', sweepIntervalMs: 50 }, secondConnection());
    await waitFor(async () => (await count(t, sql`state = 'succeeded'`)) === 5, { message: 'the new owner delivers' });
    release();
    await waitFor(() => zombie.uploads[0]!.endedAt !== undefined, { message: 'the zombie returns' });
    await zombieRouter.stop();
    expect(await count(t, sql`state = 'succeeded'`)).toBe(5);
    expect(await count(t, sql`reason = 'zombie verdict'`)).toBe(0);
  });

  it('SIGTERM lets the in-flight upload finish and exits 0', async () => {
    await insertJobs(t.db, 'dest-1', sampleEvents(10));
    const { child, exited, output } = await spawnTsChild('./child-router.ts', { DATABASE_URL: t.url, CHILD_MODE: 'slow', CHILD_UPLOAD_MS: '800' });
    await waitFor(() => t.db.selectFrom('br_uploads').selectAll().where('state', '=', 'uploading').executeTakeFirst(), { message: 'an upload is in flight' });
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(output()).toContain('stopped');
    expect(await count(t, sql`state = 'succeeded'`)).toBe(10);
  });

  it('keeps maxConcurrentImports across two routers', async () => {
    const open = new Set<string>();
    let peak = 0;
    let next = 0;
    const finished = new Set<string>();
    const asyncScript = {
      limits: { maxConcurrentImports: 2 },
      upload: async (batch: { jobIds: readonly string[] }) => {
        const vendorId = `imp-${next++}`;
        open.add(vendorId);
        peak = Math.max(peak, open.size);
        return { outcomes: [], imports: [{ handle: { vendorId }, jobs: batch.jobIds.map((jobId) => ({ jobId })) }] };
      },
      poll: async (o: { handle: Record<string, unknown>; pollCount: number }) => {
        const id = String(o.handle.vendorId);
        // Each import stays open for a few polls, long enough for the other router to try its luck.
        if (o.pollCount < 3) return { status: 'in_progress' as const };
        open.delete(id);
        finished.add(id);
        return { status: 'completed' as const };
      },
    };
    const a = scriptedManager(asyncScript);
    const b = scriptedManager(asyncScript);
    await insertJobs(t.db, 'dest-1', sampleEvents(60));
    const tuning = { maxEventsPerUpload: 10, uploadConcurrency: 4, pollIntervalMs: 10 };
    start([testDestination(a.manager, 'dest-1', tuning)], { workerId: 'imports-a' });
    start([testDestination(b.manager, 'dest-1', tuning)], { workerId: 'imports-b' }, secondConnection());
    await waitFor(async () => (await count(t, sql`state = 'succeeded'`)) === 60, { message: 'all jobs delivered', timeoutMs: 30_000 });
    expect(finished.size).toBe(6);
    expect(peak).toBe(2);
    expect(a.uploads.length + b.uploads.length).toBe(6);
  });
});
