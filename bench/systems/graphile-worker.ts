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
export interface GraphileSettings {
  /** Events per job: 1 is one job per event; more puts `{ events: [...] }` in one job's payload. */
  eventsPerJob: number;
  concurrency: number;
  maxPoolSize: number;
  pollInterval: number;
  localQueueSize: number;
  completeJobBatchDelay: number;
  failJobBatchDelay: number;
}

/** The setting frozen before the sweep existed; `npm run bench -- --sweep` finds the best one. */
export const GRAPHILE_SETTINGS: Readonly<GraphileSettings> = Object.freeze({
  eventsPerJob: 1,
  concurrency: 500,
  maxPoolSize: 10,
  pollInterval: 500,
  localQueueSize: 500,
  completeJobBatchDelay: 0,
  failJobBatchDelay: 0,
});

/** `name` tells apart the same system at several settings (sweep points, best vs equal batch). */
export function graphileWorker(settings: Readonly<GraphileSettings> = GRAPHILE_SETTINGS, name = 'graphile-worker'): BurnDownSystem {
  return {
    name,
    ingestName: `${name} addJobs`,
    settings: { ...settings, schema: GRAPHILE_SCHEMA, coalesce: 'one POST per event-loop tick' },
    prepare: (databaseUrl) => prepare(databaseUrl, settings),
  };
}

/** One job per event, or `{ events }` jobs of `eventsPerJob` events (a producer batching for graphile). */
function toJobs(events: readonly string[], eventsPerJob: number): Array<{ identifier: string; payload: object }> {
  if (eventsPerJob <= 1) return events.map((text) => ({ identifier: GRAPHILE_TASK, payload: JSON.parse(text) as object }));
  const jobs = [];
  for (let i = 0; i < events.length; i += eventsPerJob) {
    jobs.push({ identifier: GRAPHILE_TASK, payload: { events: events.slice(i, i + eventsPerJob).map((text) => JSON.parse(text) as object) } });
  }
  return jobs;
}

async function prepare(databaseUrl: string, settings: Readonly<GraphileSettings>): Promise<PreparedSystem> {
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
      await utils.addJobs(toJobs(events, settings.eventsPerJob));
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
      // Counted in events: an unfinished batched job holds up to eventsPerJob of them.
      return Math.max(0, enqueued - Number(rows[0]!.n) * Math.max(1, settings.eventsPerJob));
    },
    spawnConsumer: ({ sinkUrl }) =>
      spawnBenchChild('consumers/graphile-worker.ts', {
        DATABASE_URL: databaseUrl,
        BENCH_SINK_URL: sinkUrl,
        BENCH_SETTINGS: JSON.stringify(settings),
      }),
    async close() {
      await client.end();
      await utils.release();
    },
  };
}
