/**
 * Read-side SQL behind the dashboard's figures (served through the API like every other number):
 * a destination's deliveries per minute over the last hour, its uploads in flight, its aborted jobs
 * grouped by reason, and its most recent uploads. Each query is bounded by an index on
 * destination (and state or finished_at) and by a LIMIT, so a page of 100 destinations stays cheap.
 */
import { sql, type Kysely } from 'kysely';
import type { Database, UploadRow } from '../db/schema.ts';

type Db = Kysely<Database>;

/** Jobs that succeeded in each of the last `minutes` whole minutes, oldest first (the current minute last). */
export async function deliveredPerMinute(db: Db, destinationId: string, minutes = 60): Promise<number[]> {
  const { rows } = await sql<{ n: string }>`
    WITH buckets AS (
      SELECT generate_series(date_trunc('minute', now()) - (${minutes - 1} * interval '1 minute'), date_trunc('minute', now()), interval '1 minute') AS minute
    ), since AS (
      SELECT date_trunc('minute', now()) - (${minutes - 1} * interval '1 minute') AS at
    ), done AS (
      -- Succeeded with their upload (its range, minus the range's exception rows), or on their own.
      SELECT minute, sum(n) AS n FROM (
        SELECT date_trunc('minute', e.finished_at) AS minute, count(*) AS n FROM br_job_exceptions e, since
        WHERE e.destination_id = ${destinationId} AND e.state = 'succeeded' AND e.finished_at >= since.at
        GROUP BY 1
        UNION ALL
        SELECT date_trunc('minute', u.jobs_finished_at), u.range_count - (
                 SELECT count(*) FROM br_job_exceptions e
                 WHERE e.job_id BETWEEN u.first_job_id AND u.last_job_id AND e.destination_id = u.destination_id)
        FROM br_uploads u, since
        WHERE u.destination_id = ${destinationId} AND u.jobs_state = 'succeeded' AND u.jobs_finished_at >= since.at
      ) parts GROUP BY 1
    )
    SELECT coalesce(done.n, 0) AS n FROM buckets LEFT JOIN done USING (minute) ORDER BY buckets.minute
  `.execute(db);
  return rows.map((r) => Number(r.n));
}

/** Uploads being sent or waiting to be re-sent (not yet handed to an import or finished). */
export async function countUploadsInFlight(db: Db, destinationId: string): Promise<number> {
  const { rows } = await sql<{ n: string }>`
    SELECT count(*) AS n FROM br_uploads WHERE destination_id = ${destinationId} AND state IN ('uploading', 'retry_wait')
  `.execute(db);
  return Number(rows[0]?.n ?? 0);
}

export interface FailureGroup {
  reason: string;
  errorCode: string | null;
  count: number;
  lastAt: Date;
}

/** Aborted jobs of a destination grouped by their reason, largest group first (an aborted job always has an exception row). */
export async function abortedByReason(db: Db, destinationId: string, limit: number): Promise<FailureGroup[]> {
  const { rows } = await sql<{ reason: string | null; error_code: string | null; n: string; last_at: Date }>`
    SELECT reason, error_code, count(*) AS n, max(finished_at) AS last_at FROM br_job_exceptions
    WHERE destination_id = ${destinationId} AND state = 'aborted'
    GROUP BY reason, error_code ORDER BY count(*) DESC, max(finished_at) DESC LIMIT ${limit}
  `.execute(db);
  return rows.map((r) => ({ reason: r.reason ?? '(no reason recorded)', errorCode: r.error_code, count: Number(r.n), lastAt: r.last_at }));
}

/** The destination's newest uploads, newest first. */
export async function recentUploads(db: Db, destinationId: string, limit: number): Promise<UploadRow[]> {
  return db.selectFrom('br_uploads').selectAll().where('destination_id', '=', destinationId).orderBy('id', 'desc').limit(limit).execute();
}
