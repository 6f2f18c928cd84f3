/**
 * The "jobs arrived" signal: one `pg_notify` per insert statement (not per job), carrying the
 * destination id, so routers LISTENing on {@link JOB_ARRIVALS_CHANNEL} wake at once instead of at
 * their next safety poll. Sent on the caller's connection: inside a transaction PostgreSQL holds
 * it until COMMIT (a rolled-back insert wakes nobody); outside one it follows the committed insert.
 */
import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/schema.ts';

/** The channel routers listen on; the payload is one destination id. */
export const JOB_ARRIVALS_CHANNEL = 'br_job_arrivals';

export async function notifyJobsArrived(db: Kysely<Database>, destinationId: string): Promise<void> {
  await sql`SELECT pg_notify(${JOB_ARRIVALS_CHANNEL}, ${destinationId})`.execute(db);
}
