/**
 * Operator actions on jobs: cancel, abort the waiting jobs of a broken destination, requeue
 * aborted jobs. Each selects its jobs through the `br_jobs` view and writes their exception rows
 * in one set-based statement, under the old state as guard, as the view's INSTEAD OF trigger
 * would, but without one PL/pgSQL call per job (test/store/operator-writes.test.ts says why).
 * Retention drops whole partitions: `job-partitions.ts`.
 */
import { sql, type Kysely, type RawBuilder } from 'kysely';
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
  const { rows } = await readingByIndex(db, () => sql<EndedJob>`
    WITH ${endWaitingCtes(
      sql`SELECT j.* FROM br_jobs j WHERE ${selectorSql(selector)} AND j.state = 'waiting' AND j.destination_id = ANY(${destinations}::text[])`,
      { state: 'cancelled', reason, errorCode: 'cancelled' },
    )}
    SELECT id FROM ended`.execute(db));
  return rows.map((r) => r.id);
}

/**
 * Runs one operator statement with sequential scans off for it (the setting is put back after).
 * The exception partitions' statistics lag behind them, and a partition analyzed while empty
 * invites a nested loop that scans it once per job: the claim had exactly that (see
 * lockDestinationForClaim), and so did the view's trigger these statements replace (3,000 jobs
 * cancelled read 4,500,000 exception rows). Every join here has an index; the setting makes the
 * plan use one whatever the statistics say.
 */
async function readingByIndex<T>(db: Db, statement: () => Promise<T>): Promise<T> {
  const { rows } = await sql<{ was: string }>`
    SELECT current_setting('enable_seqscan') AS was, set_config('enable_seqscan', 'off', true)`.execute(db);
  const result = await statement();
  // After a failure the transaction is aborted and its end restores the setting.
  await sql`SELECT set_config('enable_seqscan', ${rows[0]!.was}, true)`.execute(db);
  return result;
}

/**
 * `column` equals `value` (neither is ever NULL here), written so that the planner cannot make it
 * an index condition: the statements above find each exception row by its job id, and with the
 * destination and state as index conditions too, statistics taken while the partition was empty
 * made the planner probe the (destination_id, state) index instead, reading every waiting row of
 * the destination once per job.
 */
function notAnIndexCondition(column: RawBuilder<unknown>, value: RawBuilder<unknown>): RawBuilder<boolean> {
  return sql<boolean>`${column} IS NOT DISTINCT FROM ${value}`;
}

/** A waiting job an operator action ended, and the upload it was waiting in (a whole-upload retry), if any. */
interface EndedJob {
  id: string;
  upload_id: string | null;
}

/** What a waiting job becomes when an operator action ends it. */
interface Ending {
  state: 'cancelled' | 'aborted';
  reason: string;
  errorCode: string;
  /** Also the job's last error, and its vendor code cleared (the abort of a broken destination). */
  asLastError?: boolean;
}

/**
 * The CTEs that end the waiting jobs `waiting` selects (rows of the `br_jobs` view, every column)
 * in one statement; `ended` lists them (EndedJob). A job with an exception row (a retry waiting, on its own or inside a retry upload)
 * has it updated under the trigger's guard: still `waiting`, same upload and import. A new job
 * above its cursor gets an exception row holding the final state, with the values it reads as in
 * the view; `ON CONFLICT DO NOTHING` leaves it alone if a row appeared meanwhile. Both halves read
 * one snapshot, so no job is in both. Callers hold the destinations' claim locks shared, so no
 * claim moves a cursor past these jobs while this runs.
 */
function endWaitingCtes(waiting: RawBuilder<unknown>, end: Ending): RawBuilder<unknown> {
  const lastError = end.asLastError ? sql`${end.reason}::text` : null;
  return sql`
    w AS (${waiting}), updated AS (
      UPDATE br_job_exceptions e SET state = ${end.state}, reason = ${end.reason}, error_code = ${end.errorCode},
             last_error = ${lastError ?? sql`e.last_error`}, vendor_code = ${end.asLastError ? sql`NULL` : sql`e.vendor_code`},
             finished_at = now(), updated_at = now()
      FROM w
      WHERE e.job_id = w.id AND ${notAnIndexCondition(sql`e.destination_id`, sql`w.destination_id`)}
        AND ${notAnIndexCondition(sql`e.state`, sql`'waiting'`)}
        AND e.upload_id IS NOT DISTINCT FROM w.upload_id AND e.import_id IS NOT DISTINCT FROM w.import_id
      RETURNING e.job_id AS id, e.upload_id
    ), inserted AS (
      INSERT INTO br_job_exceptions (job_id, destination_id, state, attempts, next_attempt_at, first_failed_at, upload_id, import_id,
                                     correlation_key, last_error, error_code, vendor_code, reason, updated_at, finished_at)
      SELECT w.id, w.destination_id, ${end.state}, w.attempts, w.next_attempt_at, w.first_failed_at, NULL, NULL,
             w.correlation_key, ${lastError ?? sql`w.last_error`}, ${end.errorCode}, ${end.asLastError ? sql`NULL` : sql`w.vendor_code`},
             ${end.reason}, now(), now()
      FROM w
      WHERE w.upload_id IS NULL AND w.import_id IS NULL
        AND w.id > coalesce((SELECT claimed_through FROM br_claim_cursors c WHERE c.destination_id = w.destination_id), 0)
        AND NOT EXISTS (SELECT 1 FROM updated u WHERE u.id = w.id)
      ON CONFLICT (job_id) DO NOTHING
      RETURNING job_id AS id, upload_id
    ), ended AS (SELECT id, upload_id FROM updated UNION ALL SELECT id, upload_id FROM inserted)`;
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
  const { rows } = await readingByIndex(db, () => sql<{ n: string; uploads: string[] | null }>`
    WITH doomed AS (
      (SELECT job_id AS id FROM br_job_exceptions WHERE destination_id = ${destinationId} AND state = 'waiting' LIMIT ${limit})
      UNION ALL
      (SELECT r.id FROM br_job_rows r
       WHERE r.destination_id = ${destinationId}
         AND r.id > coalesce((SELECT claimed_through FROM br_claim_cursors WHERE destination_id = ${destinationId}), 0)
         AND NOT EXISTS (SELECT 1 FROM br_job_exceptions e WHERE e.destination_id = r.destination_id AND e.job_id = r.id)
       ORDER BY r.id LIMIT ${limit})
      LIMIT ${limit}
    ), ${endWaitingCtes(
      sql`SELECT j.* FROM br_jobs j WHERE j.destination_id = ${destinationId} AND j.id = ANY(ARRAY(SELECT id FROM doomed)) AND j.state = 'waiting'`,
      { state: 'aborted', reason, errorCode: 'config', asLastError: true },
    )}
    SELECT count(*) AS n, array_agg(DISTINCT upload_id::text) FILTER (WHERE upload_id IS NOT NULL) AS uploads FROM ended
  `.execute(db));
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
  // Every aborted job has its exception row (an upload's range is only ever executing or
  // succeeded), so this is an update of those rows, guarded by their state.
  const { rows } = await readingByIndex(db, () => sql<{ id: string }>`
    WITH a AS (SELECT j.id, j.destination_id FROM br_jobs j WHERE ${selectorSql(selector)} AND j.state = 'aborted')
    UPDATE br_job_exceptions e SET state = 'waiting', attempts = 0, first_failed_at = NULL, next_attempt_at = now(),
           last_error = coalesce(e.reason, e.last_error), reason = NULL, finished_at = NULL,
           upload_id = NULL, import_id = NULL, correlation_key = NULL, updated_at = now()
    FROM a WHERE e.job_id = a.id AND ${notAnIndexCondition(sql`e.destination_id`, sql`a.destination_id`)}
      AND ${notAnIndexCondition(sql`e.state`, sql`'aborted'`)}
    RETURNING e.job_id AS id
  `.execute(db));
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
