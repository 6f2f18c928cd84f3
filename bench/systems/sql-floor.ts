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
import { sqlSystem } from '../lib/sql-system.ts';
import type { BurnDownSystem } from '../lib/types.ts';

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
  return sqlSystem({
    name: 'sql-floor',
    settings: SQL_FLOOR_SETTINGS,
    schema: SQL_FLOOR_SCHEMA,
    enqueueSql: 'INSERT INTO floor.jobs (payload) SELECT unnest($1::text[])',
    drainedSql: 'SELECT NOT EXISTS (SELECT 1 FROM floor.jobs WHERE state < 2) AS drained',
    finalCountSql: 'SELECT count(*) AS n FROM floor.jobs WHERE state = 2',
    consumerScript: 'consumers/sql-floor.ts',
  });
}
