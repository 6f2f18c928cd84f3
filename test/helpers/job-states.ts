/**
 * Reading jobs back from the database in manager tests that run the real router: the final state
 * of each job, and a wait until every job of a destination has one.
 */
import { sql, type Kysely } from 'kysely';
import type { Database } from '../../src/db/schema.ts';
import { DEFAULT_WAIT_MS, waitFor } from './wait-for.ts';

export interface JobRow {
  id: string;
  state: string;
  attempts: number;
  reason: string | null;
  last_error: string | null;
  correlation_key: string | null;
}

/** Every job of `destinationId`, oldest first. */
export async function jobRows(db: Kysely<Database>, destinationId = 'dest-1'): Promise<JobRow[]> {
  const { rows } = await sql<JobRow>`
    SELECT id, state, attempts, reason, last_error, correlation_key FROM br_jobs
    WHERE destination_id = ${destinationId} ORDER BY id`.execute(db);
  return rows;
}

/** Waits until every job of `destinationId` is succeeded or aborted, and returns them. */
export async function waitForFinal(db: Kysely<Database>, destinationId = 'dest-1', timeoutMs = DEFAULT_WAIT_MS): Promise<JobRow[]> {
  return waitFor(
    async () => {
      const rows = await jobRows(db, destinationId);
      return rows.length > 0 && rows.every((r) => r.state === 'succeeded' || r.state === 'aborted') ? rows : undefined;
    },
    { timeoutMs, message: `every job of ${destinationId} to reach succeeded or aborted` },
  );
}

/** Job ids by final state, for compact assertions. */
export function idsIn(rows: readonly JobRow[], state: string): string[] {
  return rows.filter((r) => r.state === state).map((r) => r.id);
}
