/**
 * Consumer of the "pg-boss" system (bench/systems/pg-boss.ts): `workers` work() loops on one
 * PgBoss instance, each fetching `batchSize` jobs and POSTing them to the sink in one request.
 * A handler that throws fails the whole batch, and pg-boss retries its jobs.
 */
import PgBoss from 'pg-boss';
import { markStart, processStats, serveRunner } from '../lib/child.ts';
import { postBatch, requiredEnv } from '../lib/post.ts';
import { PG_BOSS_QUEUE, pgBossOptions, type PgBossSettings } from '../systems/pg-boss.ts';

const settings = JSON.parse(requiredEnv('BENCH_SETTINGS')) as PgBossSettings;
const url = `${requiredEnv('BENCH_SINK_URL')}/hook`;
// Enough connections for every worker's fetch and completion, never fewer than the frozen pool.
const boss = new PgBoss(pgBossOptions(requiredEnv('DATABASE_URL'), Math.max(settings.max, settings.workers + 2)));
boss.on('error', (error) => process.stderr.write(`pg-boss: ${String(error)}\n`));
await boss.start();

serveRunner(settings, {
  start: async () => {
    markStart();
    for (let i = 0; i < settings.workers; i++) {
      await boss.work<object>(
        PG_BOSS_QUEUE,
        { batchSize: settings.batchSize, pollingIntervalSeconds: settings.pollingIntervalSeconds },
        async (jobs) => {
          await postBatch(url, jobs.map((job) => JSON.stringify(job.data)));
        },
      );
    }
  },
  stats: () => processStats(),
  stop: async () => {
    const stats = processStats();
    await boss.stop({ graceful: true, wait: true, timeout: 10_000 });
    return stats;
  },
});
