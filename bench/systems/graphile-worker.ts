/**
 * System "graphile-worker": graphile-worker 0.17 (Node 20) in its own schema of the fresh
 * database, one job per event (`addJobs`, the event as its payload). The consumer
 * (bench/consumers/graphile-worker.ts) runs one task per job, as graphile-worker does; so that
 * its delivery is batched like everyone else's, the task hands its event to an in-process
 * coalescer that POSTs every event handed over in the same tick of the event loop in one request,
 * and each task resolves when its request was answered. Graphile-worker then completes jobs in
 * batches (`completeJobBatchDelay: 0`: whatever completed in the same tick goes in one statement).
 *
 * Frozen settings, tuned once (see bench/README.md): concurrency 500 with a local queue of 500
 * (one fetch fills every worker), a pool of 10 connections like the daemon's, 500 ms polling.
 */
import pg from 'pg';
import { Logger, makeWorkerUtils, type WorkerUtils } from 'graphile-worker';
import { spawnBenchChild } from '../lib/child.ts';
import type { BurnDownSystem, PreparedSystem } from '../lib/types.ts';

export const GRAPHILE_SCHEMA = 'graphile_bench';
export const GRAPHILE_TASK = 'deliver';
export const GRAPHILE_SETTINGS = Object.freeze({
  concurrency: 500,
  maxPoolSize: 10,
  pollInterval: 500,
  localQueueSize: 500,
  completeJobBatchDelay: 0,
  failJobBatchDelay: 0,
});

export function graphileWorker(): BurnDownSystem {
  return {
    name: 'graphile-worker',
    ingestName: 'graphile-worker addJobs',
    settings: { ...GRAPHILE_SETTINGS, schema: GRAPHILE_SCHEMA, coalesce: 'one POST per event-loop tick' },
    prepare,
  };
}

async function prepare(databaseUrl: string): Promise<PreparedSystem> {
  const utils: WorkerUtils = await makeWorkerUtils({
    connectionString: databaseUrl,
    schema: GRAPHILE_SCHEMA,
    logger: new Logger(() => (level, message) => {
      if (level === 'error') process.stderr.write(`graphile-worker: ${message}\n`);
    }),
  });
  await utils.migrate();
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  let enqueued = 0;
  return {
    async enqueue(events) {
      await utils.addJobs(events.map((text) => ({ identifier: GRAPHILE_TASK, payload: JSON.parse(text) as object })));
      enqueued += events.length;
    },
    async drained() {
      // Completed jobs are deleted; a job that ran out of attempts stays, but is final.
      const { rows } = await client.query<{ drained: boolean }>(
        `SELECT NOT EXISTS (SELECT 1 FROM ${GRAPHILE_SCHEMA}._private_jobs WHERE attempts < max_attempts) AS drained`,
      );
      return rows[0]!.drained;
    },
    async finalCount() {
      const { rows } = await client.query<{ n: string }>(
        `SELECT count(*) AS n FROM ${GRAPHILE_SCHEMA}._private_jobs WHERE attempts < max_attempts`,
      );
      return enqueued - Number(rows[0]!.n);
    },
    spawnConsumer: ({ sinkUrl }) =>
      spawnBenchChild('consumers/graphile-worker.ts', { DATABASE_URL: databaseUrl, BENCH_SINK_URL: sinkUrl }),
    async close() {
      await client.end();
      await utils.release();
    },
  };
}
