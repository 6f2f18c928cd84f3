/**
 * A router in a child process, for tests that must really kill or signal a process.
 * Env: DATABASE_URL, CHILD_MODE = 'hang' (uploads never return until aborted) | 'slow'
 * (uploads take CHILD_UPLOAD_MS then succeed), CHILD_WORKER_ID, CHILD_LEASE_MS.
 * Prints "ready" once started; exits 0 after a graceful stop on SIGTERM.
 */
import { Kysely, PostgresDialect } from 'kysely';
import { createPool } from '../../src/db/connect.ts';
import type { Database } from '../../src/db/schema.ts';
import { abortableDelay } from '../../src/util/delay.ts';
import { startRouter } from './router.ts';
import { scriptedManager, testDestination } from './scripted-manager.ts';

const mode = process.env.CHILD_MODE ?? 'slow';
const uploadMs = Number(process.env.CHILD_UPLOAD_MS ?? 500);
const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: createPool({ connectionString: process.env.DATABASE_URL, max: 4 }) }) });
const { manager } = scriptedManager({
  upload: async (batch, ctx) => {
    if (mode === 'hang') await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve, { once: true }));
    else await abortableDelay(uploadMs, ctx.signal);
    if (ctx.signal.aborted) throw ctx.signal.reason;
    return { outcomes: batch.jobIds.map((jobId) => ({ jobId, kind: 'succeeded' as const })) };
  },
});
const leaseMs = Number(process.env.CHILD_LEASE_MS ?? 1000);
const router = startRouter(db, [testDestination(manager, 'dest-1')], {
  workerId: process.env.CHILD_WORKER_ID ?? 'child',
  leaseMs,
  heartbeatMs: Math.floor(leaseMs / 3),
  shutdownGraceMs: Number(process.env.CHILD_GRACE_MS ?? 10_000),
});
process.on('SIGTERM', () => {
  void router.stop().then(async () => {
    await db.destroy();
    process.stdout.write('stopped\n');
    process.exit(0);
  });
});
process.stdout.write('ready\n');
