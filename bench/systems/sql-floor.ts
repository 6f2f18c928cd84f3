/**
 * System "sql-floor": the least SQL that gives a job the same life as in batch-router (insert,
 * claim a batch with FOR UPDATE SKIP LOCKED, POST it to the sink, mark it final), with no
 * framework: no leases, no attempts, no per-destination state, no staging. It is the floor any
 * Postgres-backed batch delivery pays on this machine; the consumer is bench/consumers/sql-floor.ts.
 *
 * Schema: one table, one partial index covering both the claim (state 0) and the "drained?" check
 * (state < 2). Payload is text, validated before insert, exactly as batch-router stores events
 * (migration 2026-12-02): the floor must not pay for a storage choice the system under test avoids.
 * Frozen settings: batches of 10,000 and two claim loops, the same as batch-router-webhook's
 * `maxEventsPerUpload` and `uploadConcurrency`, each loop on its own connection.
 */
import pg from 'pg';
import { spawnBenchChild } from '../lib/child.ts';
import type { BurnDownSystem, PreparedSystem } from '../lib/types.ts';

export const SQL_FLOOR_SETTINGS = Object.freeze({ batchSize: 10_000, loops: 2 });

export const SQL_FLOOR_SCHEMA = `
  CREATE SCHEMA floor;
  CREATE TABLE floor.jobs (
    id bigserial PRIMARY KEY,
    state smallint NOT NULL DEFAULT 0, -- 0 waiting, 1 executing, 2 delivered
    payload text NOT NULL
  );
  CREATE INDEX jobs_unfinished ON floor.jobs (id) WHERE state < 2;
`;

export function sqlFloor(): BurnDownSystem {
  return {
    name: 'sql-floor',
    ingestName: 'sql-floor-insert',
    settings: { ...SQL_FLOOR_SETTINGS, schema: SQL_FLOOR_SCHEMA.replace(/\s+/g, ' ').trim() },
    prepare,
  };
}

async function prepare(databaseUrl: string): Promise<PreparedSystem> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  await client.query(SQL_FLOOR_SCHEMA);
  return {
    async enqueue(events) {
      await client.query('INSERT INTO floor.jobs (payload) SELECT unnest($1::text[])', [events]);
    },
    async drained() {
      const { rows } = await client.query<{ drained: boolean }>(
        'SELECT NOT EXISTS (SELECT 1 FROM floor.jobs WHERE state < 2) AS drained',
      );
      return rows[0]!.drained;
    },
    async finalCount() {
      const { rows } = await client.query<{ n: string }>('SELECT count(*) AS n FROM floor.jobs WHERE state = 2');
      return Number(rows[0]!.n);
    },
    spawnConsumer: ({ sinkUrl }) =>
      spawnBenchChild('consumers/sql-floor.ts', {
        DATABASE_URL: databaseUrl,
        BENCH_SINK_URL: sinkUrl,
        BENCH_SETTINGS: JSON.stringify(SQL_FLOOR_SETTINGS),
      }),
    close: () => client.end(),
  };
}
