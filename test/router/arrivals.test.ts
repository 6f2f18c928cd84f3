/**
 * Wake-ups on job arrival (LISTEN/NOTIFY): with idle polls far longer than the test's deadlines, a
 * job inserted into an idle router is only delivered in time if the notification woke it.
 */
import { describe, expect, it } from 'vitest';
import pg from 'pg';
import { sql } from 'kysely';
import { RetryableError } from '../../src/manager/errors.ts';
import { insertJobs } from '../../src/store/jobs.repository.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { sampleEvents } from '../helpers/router.ts';
import { scriptedManager, testDestination } from '../helpers/scripted-manager.ts';
import { routerFixture, type RouterFixture } from './fixture.ts';

type TestDb = RouterFixture['t'];
const LONG_POLL_MS = 60_000;
const UPLOAD_INTERVAL_MS = 200;

async function succeeded(t: TestDb): Promise<number> {
  const { rows } = await sql<{ n: string }>`SELECT count(*) AS n FROM br_jobs WHERE state = 'succeeded'`.execute(t.db);
  return Number(rows[0]!.n);
}

describe('router wake-ups on job arrival', () => {
  const { t, start } = routerFixture();

  /** A router that, once idle, looks for work again only on a notification (or after 60 s). */
  function startIdleRouter() {
    const { manager } = scriptedManager();
    return start([testDestination(manager, 'dest-1', { uploadIntervalMs: UPLOAD_INTERVAL_MS })], {
      idlePollMs: LONG_POLL_MS,
      arrivals: { connect: async () => new pg.Client({ connectionString: t.url }), safetyPollMs: LONG_POLL_MS },
    });
  }

  it('delivers a job inserted into an idle router within uploadIntervalMs, not the next idle poll', async () => {
    const router = startIdleRouter();
    // The first look for work happens at start; the router is idle (sleeping 60 s) after it.
    await waitFor(async () => router.status().every((s) => s.lastRunAt !== null), { message: 'router idle', timeoutMs: 15_000 });
    const before = Date.now();
    await insertJobs(t.db, 'dest-1', sampleEvents(3));
    // Woken by the notification, not by the idle poll 60 s later: half of that is the bound, wide
    // enough for a busy machine (the latency is about 0.5 s idle) and still far from the poll.
    await waitFor(async () => (await succeeded(t)) === 3, { message: 'the 3 jobs succeed', timeoutMs: LONG_POLL_MS / 2 });
    const latencyMs = Date.now() - before;
    console.log(`arrival latency: ${latencyMs} ms (uploadIntervalMs ${UPLOAD_INTERVAL_MS})`);
    expect(latencyMs).toBeLessThan(LONG_POLL_MS / 2);
  });

  it('wakes itself for a whole-upload retry coming due, which no notification announces', async () => {
    let failures = 0;
    const { manager, uploads } = scriptedManager({
      upload: async (batch) => {
        if (failures++ === 0) throw new RetryableError('vendor answered 503 (scripted once)');
        return { outcomes: batch.jobIds.map((jobId) => ({ jobId, kind: 'succeeded' as const })) };
      },
    });
    // Backoff of attempt 1 is 0.5–1 s; nothing else is waiting, so only the gate's retry time can
    // wake the idle router before its 60 s safety poll.
    start([testDestination(manager, 'dest-1', { uploadIntervalMs: 0, minBackoffMs: 1_000, maxBackoffMs: 1_000 })], {
      idlePollMs: LONG_POLL_MS,
      arrivals: { connect: async () => new pg.Client({ connectionString: t.url }), safetyPollMs: LONG_POLL_MS },
    });
    await insertJobs(t.db, 'dest-1', sampleEvents(3));
    await waitFor(async () => (await succeeded(t)) === 3, { message: 'the retried upload succeeds', timeoutMs: LONG_POLL_MS / 2 });
    const [first, retry] = uploads;
    expect([first!.attempt, retry!.attempt, retry!.uploadId]).toEqual([1, 2, first!.uploadId]);
    const gapMs = retry!.startedAt - first!.endedAt!;
    console.log(`whole-upload retry sent ${gapMs} ms after the failure (backoff 500–1000 ms)`);
    expect(gapMs).toBeGreaterThanOrEqual(450);
    expect(gapMs).toBeLessThan(LONG_POLL_MS / 2);
  });

  it.runIf(!!process.env.DATABASE_URL)('reconnects after its LISTEN connection is killed and catches up', async () => {
    startIdleRouter();
    await waitFor(async () => (await listeners(t)) === 1, { message: 'listener connected', timeoutMs: 15_000 });
    await sql`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN br_job_arrivals%' AND pid <> pg_backend_pid()`.execute(t.db);
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
