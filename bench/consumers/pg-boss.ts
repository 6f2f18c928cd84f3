/**
 * Consumer of the "pg-boss" system (bench/systems/pg-boss.ts): `workers` work() loops on one
 * PgBoss instance, each fetching `batchSize` jobs and POSTing them to the sink in one request.
 * A handler that throws fails the whole batch, and pg-boss retries its jobs.
 */
import PgBoss from 'pg-boss';
import { markStart, processStats, serveRunner } from '../lib/child.ts';
import { postBatch, requiredEnv } from '../lib/post.ts';
import { PG_BOSS_QUEUE, PG_BOSS_SETTINGS, pgBossOptions } from '../systems/pg-boss.ts';

const url = `${requiredEnv('BENCH_SINK_URL')}/hook`;
const boss = new PgBoss(pgBossOptions(requiredEnv('DATABASE_URL')));
boss.on('error', (error) => process.stderr.write(`pg-boss: ${String(error)}\n`));
await boss.start();

serveRunner(PG_BOSS_SETTINGS, {
  start: async () => {
    markStart();
    for (let i = 0; i < PG_BOSS_SETTINGS.workers; i++) {
      await boss.work<object>(
        PG_BOSS_QUEUE,
        { batchSize: PG_BOSS_SETTINGS.batchSize, pollingIntervalSeconds: PG_BOSS_SETTINGS.pollingIntervalSeconds },
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
