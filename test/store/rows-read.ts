/**
 * How many exception rows a piece of store work read, from the server's own statistics: the
 * suites that pin a statement's plan (operator actions, transitions) count reads, not time.
 */
import { sql, type Kysely } from 'kysely';
import type { Database } from '../../src/db/schema.ts';

/** Exception rows read (by index or sequentially) in partition 0 while `work` ran on `db`'s server. */
export async function exceptionRowsReadBy(db: Kysely<Database>, work: () => Promise<unknown>): Promise<number> {
  const read = async () => {
    await sql`SELECT pg_stat_force_next_flush()`.execute(db); // counts are published when a session goes idle
    const { rows } = await sql<{ n: string }>`
      SELECT (SELECT coalesce(sum(idx_tup_read), 0) FROM pg_stat_user_indexes WHERE relname = 'br_job_exceptions_p0')
           + (SELECT coalesce(sum(seq_tup_read), 0) FROM pg_stat_user_tables WHERE relname = 'br_job_exceptions_p0') AS n`.execute(db);
    return Number(rows[0]!.n);
  };
  const before = await read();
  await work();
  return (await read()) - before;
}
