/**
 * System "sql-floor-segments": the append-only floor with one row per enqueued batch instead of
 * one per job. Each enqueue call writes one segment: an id range and its payloads as one array.
 * A claim moves the destination's cursor as the append-only floor's does and reads the slices of
 * the segments its range covers, joined in the server into the body's event list (one text value
 * per claim on the wire). A delivered batch is one `uploads` row.
 *
 * It asks what issue 13's "2× the best peer" would take here: the append-only floor pays
 * PostgreSQL per job row (a heap tuple read, a row on the wire, a string in the client), and this
 * floor pays it per segment. One producer (the bench's enqueue loop): ids come from the last
 * segment's end, which concurrent producers would have to serialise on. No leases or retries of
 * claimed ranges, as in the append-only floor; on a failed POST (W3) the batch is re-sent from memory.
 */
import { sqlSystem } from '../lib/sql-system.ts';
import type { BurnDownSystem } from '../lib/types.ts';

export const SEGMENT_FLOOR_SETTINGS = Object.freeze({ batchSize: 10_000, loops: 2 });
export const SEGMENT_FLOOR_DESTINATION = 'bench';

export const SEGMENT_FLOOR_SCHEMA = `
  CREATE SCHEMA floor_seg;
  CREATE TABLE floor_seg.segments (first_id bigint PRIMARY KEY, last_id bigint NOT NULL, payloads text[] NOT NULL);
  CREATE INDEX ON floor_seg.segments (last_id);
  CREATE TABLE floor_seg.cursors (destination text PRIMARY KEY, claimed_to bigint NOT NULL);
  CREATE TABLE floor_seg.uploads (id bigserial PRIMARY KEY, first_id bigint NOT NULL, last_id bigint NOT NULL, jobs integer NOT NULL);
  INSERT INTO floor_seg.cursors VALUES ('${SEGMENT_FLOOR_DESTINATION}', 0);
`;

const DELIVERED = 'SELECT coalesce(sum(jobs), 0)::bigint AS n FROM floor_seg.uploads';

export function sqlFloorSegments(): BurnDownSystem {
  return sqlSystem({
    name: 'sql-floor-segments',
    settings: SEGMENT_FLOOR_SETTINGS,
    schema: SEGMENT_FLOOR_SCHEMA,
    // One producer: the next segment starts after the last one's end.
    enqueueSql: `
      INSERT INTO floor_seg.segments (first_id, last_id, payloads)
      SELECT coalesce(max(last_id), 0) + 1, coalesce(max(last_id), 0) + cardinality($1::text[]), $1::text[]
      FROM floor_seg.segments`,
    drainedSql: `SELECT (${DELIVERED}) >= coalesce((SELECT max(last_id) FROM floor_seg.segments), 0) AS drained`,
    finalCountSql: DELIVERED,
    consumerScript: 'consumers/sql-floor-segments.ts',
  });
}
