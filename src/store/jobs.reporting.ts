/**
 * Read-side SQL for the HTTP API and metrics (the job listing is jobs.listing.ts): per destination
 * backlog and throughput, which read the tables (uploads, exception rows, the
 * backlog above the cursor) so their cost does not grow with the history of delivered jobs.
 */
import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { Database, JobState } from '../db/schema.ts';
import { countStatesOfDestination } from './jobs.counts.ts';

type Db = Kysely<Database>;

export interface DestinationActivity {
  counts: Record<JobState, number>;
  /** Seconds the oldest waiting job has been waiting (since created); null when none waits. */
  oldestWaitingSeconds: number | null;
  /** Jobs that reached each final state within the window. */
  finishedInWindow: { succeeded: number; aborted: number; cancelled: number };
}

/**
 * Backlog by state and recent throughput of one destination, from the tables (see jobs.counts.ts):
 * uploads, exception rows and the backlog above the cursor, never the history of delivered jobs.
 */
export async function destinationActivity(db: Db, destinationId: string, windowMs: number): Promise<DestinationActivity> {
  const counts = await countStatesOfDestination(db, destinationId);
  const oldest = (await oldestWaiting(db, sql<boolean>`c.destination_id = ${destinationId}`))[0];
  const { rows: finished } = await sql<{ state: JobState; n: string }>`
    WITH since AS (SELECT now() - ${windowMs}::double precision * interval '1 millisecond' AS at)
    SELECT e.state, count(*) AS n FROM br_job_exceptions e, since
    WHERE e.destination_id = ${destinationId} AND e.state IN ('succeeded', 'aborted', 'cancelled') AND e.finished_at > since.at
    GROUP BY e.state
    UNION ALL
    SELECT 'succeeded', u.range_count - (
             SELECT count(*) FROM br_job_exceptions e
             WHERE e.job_id BETWEEN u.first_job_id AND u.last_job_id AND e.destination_id = u.destination_id)
    FROM br_uploads u, since
    WHERE u.destination_id = ${destinationId} AND u.jobs_state = 'succeeded' AND u.jobs_finished_at > since.at
  `.execute(db);
  const by = (state: JobState) => finished.filter((r) => r.state === state).reduce((n, r) => n + Number(r.n), 0);
  return {
    counts,
    oldestWaitingSeconds: oldest?.seconds ?? null,
    finishedInWindow: { succeeded: by('succeeded'), aborted: by('aborted'), cancelled: by('cancelled') },
  };
}

/** Age in seconds of the oldest waiting job per destination (the backlog-age metric). */
export async function oldestWaitingByDestination(db: Db): Promise<Array<{ destinationId: string; seconds: number }>> {
  return oldestWaiting(db, sql<boolean>`true`);
}

/**
 * Since when the oldest waiting job of each destination `scope` selects (alias `c` on
 * br_claim_cursors) was created: waiting exception rows (retries), and the first job above the
 * cursor without one (ids grow with creation time). Destinations with nothing waiting are left out.
 */
async function oldestWaiting(db: Db, scope: RawBuilder<boolean>): Promise<Array<{ destinationId: string; seconds: number }>> {
  const { rows } = await sql<{ destination_id: string; age: number | null }>`
    SELECT c.destination_id, extract(epoch FROM now() - least(
      (SELECT min(r.created_at) FROM br_job_exceptions e JOIN br_job_rows r ON r.id = e.job_id
       WHERE e.destination_id = c.destination_id AND e.state = 'waiting'),
      (SELECT r.created_at FROM br_job_rows r
       WHERE r.destination_id = c.destination_id AND r.id > c.claimed_through
         AND NOT EXISTS (SELECT 1 FROM br_job_exceptions e WHERE e.job_id = r.id)
       ORDER BY r.id LIMIT 1)))::double precision AS age
    FROM br_claim_cursors c WHERE ${scope}
  `.execute(db);
  return rows.filter((r) => r.age !== null).map((r) => ({ destinationId: r.destination_id, seconds: Math.max(0, r.age!) }));
}
