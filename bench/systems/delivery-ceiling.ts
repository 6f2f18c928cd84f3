/**
 * System "delivery-ceiling": how fast this machine can move the backlog into the sink when no
 * store does any work while the clock runs. Its consumer reads every payload into memory before
 * `start` (not timed), then its loops POST them in id order, the same body the other systems send,
 * and insert one row per delivered batch so completion is checked in the database like everyone
 * else's. No claim, no lease, no job row written or read during the run.
 *
 * It is not a queue and not a peer: it is the upper bound a store's W1 figure can approach on this
 * machine with this sink. A target above it (issue 13's "2× the best peer") cannot be met by any
 * store design here; the row says by how much. Swept like the peers (`--sweep-systems
 * delivery-ceiling`), so the bound is taken at its own best batch size and number of loops.
 */
import { sqlSystem } from '../lib/sql-system.ts';
import type { BurnDownSystem } from '../lib/types.ts';

export interface DeliveryCeilingSettings {
  /** Events per POST. */
  batchSize: number;
  /** POSTs in flight at once. */
  loops: number;
}

export const DELIVERY_CEILING_SETTINGS: Readonly<DeliveryCeilingSettings> = Object.freeze({ batchSize: 10_000, loops: 2 });

export const DELIVERY_CEILING_SCHEMA = `
  CREATE SCHEMA ceiling;
  CREATE TABLE ceiling.jobs (id bigserial PRIMARY KEY, payload text NOT NULL);
  CREATE TABLE ceiling.uploads (jobs integer NOT NULL);
`;

const DELIVERED = 'SELECT coalesce(sum(jobs), 0)::bigint AS n FROM ceiling.uploads';

export function deliveryCeilingLabel(s: Readonly<DeliveryCeilingSettings>): string {
  return `${s.batchSize} per POST × ${s.loops}, from memory`;
}

export function deliveryCeiling(settings: Readonly<DeliveryCeilingSettings> = DELIVERY_CEILING_SETTINGS, name = 'delivery-ceiling'): BurnDownSystem {
  return sqlSystem({
    name,
    settings,
    schema: DELIVERY_CEILING_SCHEMA,
    enqueueSql: 'INSERT INTO ceiling.jobs (payload) SELECT unnest($1::text[])',
    // Ids run 1..n without gaps in a fresh database, so max(id) (one index probe) is the backlog.
    drainedSql: `SELECT (${DELIVERED}) >= coalesce((SELECT max(id) FROM ceiling.jobs), 0) AS drained`,
    finalCountSql: DELIVERED,
    consumerScript: 'consumers/delivery-ceiling.ts',
  });
}
