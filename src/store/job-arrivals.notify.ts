/**
 * The "jobs arrived" signal: one `pg_notify` per insert statement (not per job), carrying the
 * destination id, so routers LISTENing on {@link JOB_ARRIVALS_CHANNEL} wake at once instead of at
 * their next safety poll. Sent on the caller's connection: inside a transaction PostgreSQL holds
 * it until COMMIT (a rolled-back insert wakes nobody); outside one it follows the committed insert.
 */
import { sql } from 'kysely';

/** The channel routers listen on; the payload is one destination id. */
export const JOB_ARRIVALS_CHANNEL = 'br_job_arrivals';

/**
 * The notice as a one-row SELECT, for a CTE of the insert statement. A SELECT CTE runs only when
 * the main query reads it, so the insert must join it; pg_notify is volatile, so PostgreSQL
 * materialises the CTE rather than inlining it, and the notice is sent once per statement.
 */
export const jobsArrivedNotice = (destinationId: string) => sql`SELECT pg_notify(${JOB_ARRIVALS_CHANNEL}, ${destinationId})`;
