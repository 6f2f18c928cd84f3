/**
 * Operator actions on jobs: cancel, abort the waiting jobs of a broken destination, requeue
 * aborted jobs. All set-based updates of the `br_jobs` view (its trigger writes exception rows
 * under the old state as guard). Retention drops whole partitions: `job-partitions.ts`.
 */
import { sql, type Kysely } from 'kysely';
import type { Database, JobState } from '../db/schema.ts';
import { lockSubmissions, reopenSubmissions } from '../api/store/submissions.repository.ts';
import { lockDestinationsShared } from './destination-lock.ts';

type Db = Kysely<Database>;

export interface JobSelector {
  destinationId?: string | undefined;
  ids?: readonly string[] | undefined;
  submissionId?: string | undefined;
  /** Case-insensitive substring of the job's reason (for requeueing one kind of failure). */
  reasonContains?: string | undefined;
  finishedAfter?: Date | undefined;
  finishedBefore?: Date | undefined;
}

function selectorSql(s: JobSelector) {
  return sql.join(
    [
      sql`true`,
      s.destinationId !== undefined ? sql`j.destination_id = ${s.destinationId}` : sql`true`,
      s.ids !== undefined ? sql`j.id = ANY(${s.ids}::bigint[])` : sql`true`,
      s.submissionId !== undefined ? sql`j.submission_id = ${s.submissionId}` : sql`true`,
      s.reasonContains !== undefined ? sql`j.reason ILIKE ${`%${s.reasonContains}%`}` : sql`true`,
      s.finishedAfter !== undefined ? sql`j.finished_at >= ${s.finishedAfter}` : sql`true`,
      s.finishedBefore !== undefined ? sql`j.finished_at < ${s.finishedBefore}` : sql`true`,
    ],
    sql` AND `,
  );
}

/**
 * Cancels jobs that have not been handed to a vendor yet (`waiting`). Jobs already executing or
 * importing cannot be recalled and are left alone; the caller reports them. Each destination the
 * selector touches is locked shared first (sorted), then the update runs as a new statement that
 * sees every claim committed before it: a cancel never races a claim of the same job.
 */
export async function cancelJobs(db: Db, selector: JobSelector, reason: string): Promise<string[]> {
  if (!db.isTransaction) return db.transaction().execute((trx) => cancelJobs(trx, selector, reason));
  const destinations = await destinationsOf(db, selector);
  await lockDestinationsShared(db, destinations);
  const { rows } = await sql<{ id: string }>`
    UPDATE br_jobs j SET state = 'cancelled', reason = ${reason}, error_code = 'cancelled', finished_at = now(), updated_at = now()
    WHERE ${selectorSql(selector)} AND j.state = 'waiting' AND j.destination_id = ANY(${destinations}::text[])
    RETURNING j.id
  `.execute(db);
  return rows.map((r) => r.id);
}

/** The destinations whose jobs a selector can match (every destination with jobs when it names none). */
async function destinationsOf(db: Db, s: JobSelector): Promise<string[]> {
  if (s.destinationId !== undefined) return [s.destinationId];
  const { rows } = s.ids === undefined && s.submissionId === undefined
    ? await sql<{ destination_id: string }>`SELECT destination_id FROM br_claim_cursors`.execute(db)
    : await sql<{ destination_id: string }>`
        SELECT DISTINCT destination_id FROM br_job_rows
        WHERE ${s.ids !== undefined ? sql`id = ANY(${s.ids}::bigint[])` : sql`true`}
          AND ${s.submissionId !== undefined ? sql`submission_id = ${s.submissionId}` : sql`true`}`.execute(db);
  return rows.map((r) => r.destination_id);
}

/**
 * Aborts up to `limit` waiting jobs of a destination whose config cannot work, including jobs
 * waiting inside an upload for its retry; returns how many and the uploads they were waiting in,
 * so the caller can settle those uploads. Takes the destination's lock shared first, like cancel.
 */
export async function abortWaitingOfDestination(
  db: Db,
  destinationId: string,
  reason: string,
  limit: number,
): Promise<{ aborted: number; uploadIds: string[] }> {
  if (!db.isTransaction) return db.transaction().execute((trx) => abortWaitingOfDestination(trx, destinationId, reason, limit));
  await lockDestinationsShared(db, [destinationId]);
  const { rows } = await sql<{ n: string; uploads: string[] | null }>`
    WITH doomed AS (
      (SELECT job_id AS id FROM br_job_exceptions WHERE destination_id = ${destinationId} AND state = 'waiting' LIMIT ${limit})
      UNION ALL
      (SELECT r.id FROM br_job_rows r
       WHERE r.destination_id = ${destinationId}
         AND r.id > coalesce((SELECT claimed_through FROM br_claim_cursors WHERE destination_id = ${destinationId}), 0)
         AND NOT EXISTS (SELECT 1 FROM br_job_exceptions e WHERE e.destination_id = r.destination_id AND e.job_id = r.id)
       ORDER BY r.id LIMIT ${limit})
      LIMIT ${limit}
    ), changed AS (
      UPDATE br_jobs j SET state = 'aborted', reason = ${reason}, last_error = ${reason}, error_code = 'config', vendor_code = NULL,
             finished_at = now(), updated_at = now()
      WHERE j.destination_id = ${destinationId} AND j.id = ANY(ARRAY(SELECT id FROM doomed)) AND j.state = 'waiting'
      RETURNING j.upload_id
    )
    SELECT count(*) AS n, array_agg(DISTINCT upload_id::text) FILTER (WHERE upload_id IS NOT NULL) AS uploads FROM changed
  `.execute(db);
  return { aborted: Number(rows[0]?.n ?? 0), uploadIds: rows[0]?.uploads ?? [] };
}

/**
 * Puts aborted jobs back to `waiting` with a fresh attempt budget and retry window; the previous
 * reason stays in `last_error` so the history is not lost. Their submissions become pending again
 * (their next final state gets a new callback).
 *
 * The submissions are locked first, in id order: the finalizer records a submission's final state
 * under the same row lock (SKIP LOCKED), so a requeue can never slip between the finalizer's count
 * of the jobs and its write and leave a submission recorded `failed` while its jobs run again.
 */
export async function requeueAborted(db: Db, selector: JobSelector): Promise<string[]> {
  if (!db.isTransaction) return db.transaction().execute((trx) => requeueAborted(trx, selector));
  const { rows: owners } = await sql<{ submission_id: string }>`
    SELECT DISTINCT j.submission_id FROM br_jobs j
    WHERE ${selectorSql(selector)} AND j.state = 'aborted' AND j.submission_id IS NOT NULL
  `.execute(db);
  const submissionIds = owners.map((r) => r.submission_id);
  await lockSubmissions(db, submissionIds);
  const { rows } = await sql<{ id: string }>`
    UPDATE br_jobs j SET state = 'waiting', attempts = 0, first_failed_at = NULL, next_attempt_at = now(),
           last_error = coalesce(j.reason, j.last_error), reason = NULL, finished_at = NULL,
           upload_id = NULL, import_id = NULL, correlation_key = NULL, updated_at = now()
    WHERE ${selectorSql(selector)} AND j.state = 'aborted'
    RETURNING j.id
  `.execute(db);
  if (rows.length > 0) await reopenSubmissions(db, submissionIds);
  return rows.map((r) => r.id);
}

/**
 * Counts by state of the jobs a selector matches, whatever their state. `cancel` runs it after
 * `cancelJobs` to tell the operator how many matched jobs could not be cancelled and why.
 */
export async function countMatchingByState(db: Db, selector: JobSelector): Promise<Record<JobState, number>> {
  const counts: Record<JobState, number> = { waiting: 0, executing: 0, importing: 0, succeeded: 0, aborted: 0, cancelled: 0 };
  const { rows } = await sql<{ state: JobState; n: string }>`
    SELECT j.state, count(*) AS n FROM br_jobs j WHERE ${selectorSql(selector)} GROUP BY j.state
  `.execute(db);
  for (const row of rows) counts[row.state] = Number(row.n);
  return counts;
}
