/**
 * Wake-ups on job arrival (LISTEN/NOTIFY): with idle polls far longer than the test's deadlines, a
 * job inserted into an idle router is only delivered in time if the notification woke it.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import pg from 'pg';
import { sql } from 'kysely';
import { insertJobs } from '../../src/store/jobs.repository.ts';
import { createTestDatabase } from '../helpers/database.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { sampleEvents, startRouter } from '../helpers/router.ts';
import { scriptedManager, testDestination } from '../helpers/scripted-manager.ts';
import type { Router } from '../../src/router/router.ts';

type TestDb = Awaited<ReturnType<typeof createTestDatabase>>;
const LONG_POLL_MS = 60_000;
const UPLOAD_INTERVAL_MS = 200;

async function succeeded(t: TestDb): Promise<number> {
  const { rows } = await sql<{ n: string }>`SELECT count(*) AS n FROM br_jobs WHERE state = 'succeeded'`.execute(t.db);
  return Number(rows[0]!.n);
}

describe('router wake-ups on job arrival', () => {
  let t: TestDb;
  let router: Router | undefined;
  beforeEach(async () => {
    t = await createTestDatabase();
  });
  afterEach(async () => {
    await router?.stop();
    router = undefined;
    await t.close();
  });

  function start() {
    const { manager } = scriptedManager();
    router = startRouter(t.db, [testDestination(manager, 'dest-1', { uploadIntervalMs: UPLOAD_INTERVAL_MS })], {
      idlePollMs: LONG_POLL_MS,
      arrivals: { connect: async () => new pg.Client({ connectionString: t.url }), safetyPollMs: LONG_POLL_MS },
    });
  }

  it('delivers a job inserted into an idle router within uploadIntervalMs, not the next idle poll', async () => {
    start();
    // The first look for work happens at start; the router is idle (sleeping 60 s) after it.
    await waitFor(async () => router!.status().every((s) => s.lastRunAt !== null), { message: 'router idle', timeoutMs: 15_000 });
    const before = Date.now();
    await insertJobs(t.db, 'dest-1', sampleEvents(3));
    await waitFor(async () => (await succeeded(t)) === 3, { message: 'the 3 jobs succeed', timeoutMs: 15_000 });
    const latencyMs = Date.now() - before;
    console.log(`arrival latency: ${latencyMs} ms (uploadIntervalMs ${UPLOAD_INTERVAL_MS})`);
    expect(latencyMs).toBeLessThan(15_000);
  });

  it.runIf(!!process.env.DATABASE_URL)('reconnects after its LISTEN connection is killed and catches up', async () => {
    start();
    await waitFor(async () => (await listeners(t)) === 1, { message: 'listener connected', timeoutMs: 15_000 });
    await sql`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'LISTEN br_job_arrivals%' AND pid <> pg_backend_pid()`.execute(t.db);
    await insertJobs(t.db, 'dest-1', sampleEvents(2)); // likely sent while nobody listens: lost
    await waitFor(async () => (await succeeded(t)) === 2, { message: 'jobs of the gap delivered after reconnect', timeoutMs: 20_000 });
    await insertJobs(t.db, 'dest-1', sampleEvents(1));
    await waitFor(async () => (await succeeded(t)) === 3, { message: 'a later job woken by the new connection', timeoutMs: 20_000 });
  });
});

async function listeners(t: TestDb): Promise<number> {
  const { rows } = await sql<{ n: string }>`
    SELECT count(*) AS n FROM pg_stat_activity WHERE query LIKE 'LISTEN br_job_arrivals%' AND datname = current_database()`.execute(t.db);
  return Number(rows[0]!.n);
}
