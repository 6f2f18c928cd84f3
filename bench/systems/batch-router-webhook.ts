/**
 * System "batch-router-webhook": batch-router's own job store, filled with `insertJobs` (the
 * function behind `batch-router enqueue` and the API), drained by the daemon (bench/daemon-process.ts)
 * through one `webhook` destination into the sink.
 *
 * The settings below were tuned once on the reference machine and are frozen, so later runs and
 * other systems are compared against the same configuration; bench/README.md explains each one.
 */
import { sql } from 'kysely';
import { tmpdir } from 'node:os';
import { openDatabase } from '../../src/db/connect.ts';
import { insertJobs } from '../../src/store/jobs.repository.ts';
import { hasUnfinishedJobs } from '../../src/store/jobs.counts.ts';
import { migrateToLatest } from '../../src/db/migrate.ts';
import { spawnBenchChild } from '../lib/child.ts';
import type { BurnDownSystem, PreparedSystem } from '../lib/types.ts';

export const DESTINATION_ID = 'bench-webhook';

/**
 * Destination tuning. Bigger uploads amortise the per-upload transactions (claim, record) and
 * the per-request overhead; 10,000 events of ~300 bytes is ~3 MB of JSON, under the webhook
 * manager's 4 MiB default byte cap, which therefore does not cut batches short. Two uploads in
 * flight (the framework default) overlap one batch's HTTP POST with the next one's database work.
 * A short upload interval only matters for the last, partial batch.
 */
export const FROZEN_TUNING: Readonly<Record<string, number>> = Object.freeze({
  maxEventsPerUpload: 10_000,
  uploadConcurrency: 2,
  uploadIntervalMs: 50,
});

/**
 * Daemon settings, passed as the environment variables an operator would set. Everything not
 * listed keeps its production default (pool of 10, 30 s leases, 5 s sweeps).
 */
export const DAEMON_ENV: Readonly<Record<string, string>> = Object.freeze({
  // An idle worker looks again after 20 ms: this bounds the gap between an upload finishing and
  // the next claim only when the worker had gone idle; a busy worker claims back to back anyway.
  BATCH_ROUTER_IDLE_POLL_MS: '20',
  // One "upload recorded" info line per batch is cheap, but the bench output should stay readable.
  LOG_LEVEL: 'warn',
  BATCH_ROUTER_LOG_FORMAT: 'json',
});

/** `name` tells apart the same daemon at several tunings (sweep points, the webhook default). */
export function batchRouterWebhook(tuningOverrides: Readonly<Record<string, number>> = {}, name = 'batch-router-webhook'): BurnDownSystem {
  const tuning = { ...FROZEN_TUNING, ...tuningOverrides };
  return {
    name,
    ingestName: name === 'batch-router-webhook' ? 'batch-router-enqueue' : `${name} enqueue`,
    settings: { destination: { manager: 'webhook', format: 'json', tuning }, daemonEnv: DAEMON_ENV },
    prepare: (databaseUrl) => prepare(databaseUrl, tuning),
  };
}

/** How the daemon child is pointed at a destination other than the default webhook one. */
export interface DestinationOverride {
  manager: string;
  /** Builds the destination config from the receiver's base URL. */
  config: (receiverUrl: string) => Record<string, unknown>;
}

/** batch-router's job store and daemon, with any manager; shared by the batch-router-* systems. */
export async function prepare(
  databaseUrl: string,
  tuning: Readonly<Record<string, number>>,
  override?: DestinationOverride,
  /** The daemon's environment instead of DAEMON_ENV (the idle row runs production defaults). */
  daemonEnv: Readonly<Record<string, string>> = DAEMON_ENV,
): Promise<PreparedSystem> {
  // The runner's connection, not the daemon's: two connections are plenty for enqueue and polling.
  const database = await openDatabase({ databaseUrl, dataDir: tmpdir(), poolSize: 2, role: 'client' });
  const { db } = database;
  await migrateToLatest(db);
  // The scale workload starts with millions of finished jobs of this destination: count only ours.
  const { rows: before } = await sql<{ id: string }>`SELECT coalesce(max(id), 0)::text AS id FROM br_job_rows`.execute(db);
  const historyEndsAt = before[0]!.id;
  return {
    async enqueue(events) {
      await insertJobs(db, DESTINATION_ID, events);
    },
    async drained() {
      // An existence check, as the peers' are: a count of the waiting backlog took up to 0.3 s of
      // the server's CPU per check, taken from the daemon while the clock ran.
      return !(await hasUnfinishedJobs(db, DESTINATION_ID));
    },
    async finalCount() {
      const { rows } = await sql<{ n: string }>`
        SELECT count(*) AS n FROM br_jobs
        WHERE id > ${historyEndsAt}::bigint AND destination_id = ${DESTINATION_ID} AND state IN ('succeeded', 'aborted')
      `.execute(db);
      return Number(rows[0]!.n);
    },
    spawnConsumer: ({ sinkUrl, workDir }) =>
      spawnBenchChild(
        'daemon-process.ts',
        {
          ...daemonEnv,
          DATABASE_URL: databaseUrl,
          BENCH_SINK_URL: sinkUrl,
          BENCH_WORK_DIR: workDir,
          BENCH_DESTINATION_ID: DESTINATION_ID,
          BENCH_TUNING: JSON.stringify(tuning),
          ...(override ? { BENCH_MANAGER: override.manager, BENCH_DESTINATION_CONFIG: JSON.stringify(override.config(sinkUrl)) } : {}),
        },
        // e.g. BENCH_DAEMON_NODE_OPTIONS="--cpu-prof --cpu-prof-dir=bench/results/profiles"
        process.env.BENCH_DAEMON_NODE_OPTIONS?.split(/\s+/).filter(Boolean) ?? [],
      ),
    close: () => database.close(),
  };
}
