/**
 * System "sql-floor-append-only": the least SQL for what an upload-centred store does, so the
 * redesigned batch-router has a floor of its own shape to be measured against (issue 13). Job rows
 * are written once and never updated or deleted; a claim moves one per-destination cursor row
 * past the next batch of ids (one UPDATE per batch, not per job); a delivered batch is recorded by
 * one row in `uploads`. Its own tables, created here: it depends on nothing in batch-router's schema.
 *
 * No leases, attempts or recovery: a batch claimed by a consumer that dies is lost here, which a
 * real store must handle (the upload row written at claim time, with a lease). On a failed POST
 * (W3) the consumer re-sends the batch from memory after 1 s. Same batch size and loops as
 * sql-floor (10,000 × 2), so the two floors differ only in the store's shape.
 */
import { sqlSystem } from '../lib/sql-system.ts';
import type { BurnDownSystem } from '../lib/types.ts';

export const APPEND_ONLY_SETTINGS = Object.freeze({ batchSize: 10_000, loops: 2 });
export const APPEND_ONLY_DESTINATION = 'bench';

export const APPEND_ONLY_SCHEMA = `
  CREATE SCHEMA floor_ao;
  CREATE TABLE floor_ao.jobs (id bigserial PRIMARY KEY, payload text NOT NULL);
  CREATE TABLE floor_ao.cursors (destination text PRIMARY KEY, claimed_to bigint NOT NULL);
  CREATE TABLE floor_ao.uploads (id bigserial PRIMARY KEY, first_id bigint NOT NULL, last_id bigint NOT NULL, jobs integer NOT NULL);
  INSERT INTO floor_ao.cursors VALUES ('${APPEND_ONLY_DESTINATION}', 0);
`;

const DELIVERED = 'SELECT coalesce(sum(jobs), 0)::bigint AS n FROM floor_ao.uploads';

export function sqlFloorAppendOnly(): BurnDownSystem {
  return sqlSystem({
    name: 'sql-floor-append-only',
    settings: APPEND_ONLY_SETTINGS,
    schema: APPEND_ONLY_SCHEMA,
    enqueueSql: 'INSERT INTO floor_ao.jobs (payload) SELECT unnest($1::text[])',
    // Ids come from one sequence in a fresh database with no failed insert, so they run 1..n
    // without gaps: the backlog is drained once the uploads account for max(id) jobs.
    drainedSql: `SELECT (${DELIVERED}) >= coalesce((SELECT max(id) FROM floor_ao.jobs), 0) AS drained`,
    finalCountSql: DELIVERED,
    consumerScript: 'consumers/sql-floor-append-only.ts',
  });
}
