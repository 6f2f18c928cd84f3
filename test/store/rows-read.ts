/**
 * How many rows of a table a piece of store work read, from the server's own statistics: the
 * suites that pin a statement's plan (operator actions, transitions, the listing) count reads,
 * not time.
 */
import { sql, type Kysely } from 'kysely';
import type { Database } from '../../src/db/schema.ts';

/** Rows of table `relation` read (by index or sequentially) while `work` ran on `db`'s server. */
export async function rowsReadBy(db: Kysely<Database>, relation: string, work: () => Promise<unknown>): Promise<number> {
  const read = async () => {
    await sql`SELECT pg_stat_force_next_flush()`.execute(db); // counts are published when a session goes idle
    const { rows } = await sql<{ n: string }>`
      SELECT (SELECT coalesce(sum(idx_tup_read), 0) FROM pg_stat_user_indexes WHERE relname = ${relation})
           + (SELECT coalesce(sum(seq_tup_read), 0) FROM pg_stat_user_tables WHERE relname = ${relation}) AS n`.execute(db);
    return Number(rows[0]!.n);
  };
  const before = await read();
  await work();
  return (await read()) - before;
}

/** Exception rows read in partition 0 (every test job's id is in it). */
export function exceptionRowsReadBy(db: Kysely<Database>, work: () => Promise<unknown>): Promise<number> {
  return rowsReadBy(db, 'br_job_exceptions_p0', work);
}

/** Job rows read in partition 0. */
export function jobRowsReadBy(db: Kysely<Database>, work: () => Promise<unknown>): Promise<number> {
  return rowsReadBy(db, 'br_job_rows_p0', work);
}
