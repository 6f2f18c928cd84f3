/**
 * System "pg-boss": pg-boss 10 (the line that runs on Node 20) in its own schema of the fresh
 * database. Jobs are inserted with `boss.insert` (one job per event, the event as its `data`);
 * the consumer (bench/consumers/pg-boss.ts) registers several `work()` loops with a batch
 * handler that POSTs each fetched batch to the sink in one request, after which pg-boss
 * completes the whole batch in one statement.
 *
 * Frozen settings, tuned once (see bench/README.md): 4 workers × batchSize 5,000, polling every
 * 0.5 s (pg-boss's minimum; v10 sleeps the rest of the interval after every batch, so workers ×
 * batch size bounds the rate), a pool of 10 connections like the daemon's, maintenance and
 * scheduling off (nothing for them to do in a 10-second run; the daemon's sweeps are on, but cheap).
 */
import pg from 'pg';
import PgBoss from 'pg-boss';
import { spawnBenchChild } from '../lib/child.ts';
import type { BurnDownSystem, PreparedSystem } from '../lib/types.ts';

export const PG_BOSS_SCHEMA = 'pgboss_bench';
export const PG_BOSS_QUEUE = 'bench';
export interface PgBossSettings {
  workers: number;
  batchSize: number;
  pollingIntervalSeconds: number;
  max: number;
}
/** The setting frozen before the sweep existed; `npm run bench -- --sweep` finds the best one. */
export const PG_BOSS_SETTINGS: Readonly<PgBossSettings> = Object.freeze({ workers: 4, batchSize: 5_000, pollingIntervalSeconds: 0.5, max: 10 });

export const PG_BOSS_RETRY = Object.freeze({ retryLimit: 10, retryDelay: 1, retryBackoff: false });

export function pgBossOptions(databaseUrl: string, max = PG_BOSS_SETTINGS.max): PgBoss.ConstructorOptions {
  return { connectionString: databaseUrl, schema: PG_BOSS_SCHEMA, max, supervise: false, schedule: false };
}

/** `name` tells apart the same system at several settings (sweep points, best vs equal batch). */
export function pgBoss(settings: Readonly<PgBossSettings> = PG_BOSS_SETTINGS, name = 'pg-boss'): BurnDownSystem {
  return {
    name,
    ingestName: `${name} insert`,
    settings: { ...settings, schema: PG_BOSS_SCHEMA, supervise: false, schedule: false, queuePolicy: 'standard', retry: PG_BOSS_RETRY },
    prepare: (databaseUrl) => prepare(databaseUrl, settings),
  };
}

async function prepare(databaseUrl: string, settings: Readonly<PgBossSettings>): Promise<PreparedSystem> {
  const boss = new PgBoss({ ...pgBossOptions(databaseUrl), max: 2 });
  boss.on('error', (error) => process.stderr.write(`pg-boss (runner): ${String(error)}\n`));
  await boss.start(); // creates the schema
  // W3 retry policy: 1 s fixed, like batch-router's first backoff and sql-floor's delay.
  await boss.createQueue(PG_BOSS_QUEUE, { name: PG_BOSS_QUEUE, ...PG_BOSS_RETRY });
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  return {
    async enqueue(events) {
      await boss.insert(events.map((text) => ({ name: PG_BOSS_QUEUE, data: JSON.parse(text) as object })));
    },
    async drained() {
      const { rows } = await client.query<{ drained: boolean }>(
        `SELECT NOT EXISTS (SELECT 1 FROM ${PG_BOSS_SCHEMA}.job WHERE name = $1 AND state < 'completed') AS drained`,
        [PG_BOSS_QUEUE],
      );
      return rows[0]!.drained;
    },
    async finalCount() {
      const { rows } = await client.query<{ n: string }>(
        `SELECT count(*) AS n FROM ${PG_BOSS_SCHEMA}.job WHERE name = $1 AND state IN ('completed', 'failed')`,
        [PG_BOSS_QUEUE],
      );
      return Number(rows[0]!.n);
    },
    spawnConsumer: ({ sinkUrl }) =>
      spawnBenchChild('consumers/pg-boss.ts', {
        DATABASE_URL: databaseUrl,
        BENCH_SINK_URL: sinkUrl,
        BENCH_SETTINGS: JSON.stringify(settings),
      }),
    async close() {
      await client.end();
      await boss.stop({ graceful: false, wait: true });
    },
  };
}
