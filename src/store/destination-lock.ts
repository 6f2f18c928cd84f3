/**
 * The per-destination advisory lock that orders claims against enqueues and cancels.
 *
 * A claim holds it exclusively for its whole transaction (src/router/claim.ts), which also keeps
 * the uploads-in-flight limit exact. Enqueue takes it shared inside its one insert statement,
 * before it draws any id, so a claim waits for inserts in flight and the destination's cursor
 * never passes an id that commits later. Cancel and "abort the waiting jobs of a broken
 * destination" take it shared too: otherwise a cancel of a job above the cursor could commit
 * after a claim took that job into an upload that then delivers it.
 */
import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { Database } from '../db/schema.ts';
import { prepared } from '../db/prepared-statements.ts';

/** The lock key of a destination, as SQL (hashtext of a fixed prefix and the id). */
export function destinationLockKey(destinationId: string | RawBuilder<unknown>): RawBuilder<number> {
  return sql<number>`hashtext('batch-router:claim:' || ${destinationId})`;
}

/**
 * Exclusive, until the transaction ends: only claims take it this way. The same statement sets the
 * claim transaction's planner settings: generic plans (planning over the partitions cost more
 * than running), no JIT (see `createPool`), and no sequential scans. A generic plan is kept until
 * something invalidates it, and it was made when the partition the ids were about to enter was
 * still empty: the planner then reads that partition with a sequential scan, which it keeps
 * doing as the partition fills, once per claimed job for the payload lookup, until the sweeper's
 * next ANALYZE (the soak: a claim of 10,000 jobs took 2-3 s once per partition, and enqueue
 * waited on its lock). Every claim statement has an index for what it reads.
 */
export async function lockDestinationForClaim(db: Kysely<Database>, destinationId: string): Promise<void> {
  await sql`${prepared}SELECT pg_advisory_xact_lock(${destinationLockKey(destinationId)}), set_config('plan_cache_mode', 'force_generic_plan', true),
                   set_config('jit', 'off', true), set_config('enable_seqscan', 'off', true)`.execute(db);
}

/**
 * Shared, until the transaction ends, for each destination in sorted order (two callers locking
 * the same set never deadlock). Must run inside a transaction: outside one it would end at once.
 */
export async function lockDestinationsShared(db: Kysely<Database>, destinationIds: readonly string[]): Promise<void> {
  if (!db.isTransaction) throw new Error('lockDestinationsShared needs a transaction');
  const sorted = [...new Set(destinationIds)].sort();
  if (sorted.length === 0) return;
  await sql`SELECT pg_advisory_xact_lock_shared(${destinationLockKey(sql`d`)})
            FROM unnest(${sorted}::text[]) WITH ORDINALITY AS t(d, n) ORDER BY n`.execute(db);
}
