/**
 * SQL for `br_submissions`: the jobs accepted by one `POST /events`. A submission's state is
 * derived from its jobs (see {@link deriveSubmissionState}); the row records it once it is final,
 * together with a summary that outlives the jobs, so callbacks fire once and late readers still
 * see the outcome after retention deleted the jobs.
 */
import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { Database, JobState, SubmissionRow, SubmissionState } from '../../db/schema.ts';
import { spanStateCountsSql, submissionDestinationSql, submissionSpanSql } from '../../store/jobs.span-counts.ts';

type Db = Kysely<Database>;
export type StateCounts = Record<JobState, number>;

/** First reasons of a submission's unsuccessful jobs, shown on the resource (N is small). */
export interface JobReason {
  jobId: string;
  state: JobState;
  reason: string;
}

export interface SubmissionSummary {
  counts: StateCounts;
  errors: JobReason[];
}

export function zeroStateCounts(): StateCounts {
  return { waiting: 0, executing: 0, importing: 0, succeeded: 0, aborted: 0, cancelled: 0 };
}

/** The one rule, used by reads, waits, SSE and the finalizer alike (documented on SubmissionState). */
export function deriveSubmissionState(counts: StateCounts): SubmissionState {
  if (counts.waiting + counts.executing + counts.importing > 0) return 'pending';
  const total = counts.succeeded + counts.aborted + counts.cancelled;
  if (counts.succeeded === total) return 'completed';
  if (counts.cancelled === total) return 'cancelled';
  if (counts.succeeded === 0) return 'failed';
  return 'partial';
}

export async function insertSubmission(
  db: Db,
  row: { id: string; destinationId: string; keyId: string | null; jobCount: number; callbackUrl: string | null },
): Promise<void> {
  await db
    .insertInto('br_submissions')
    .values({ id: row.id, destination_id: row.destinationId, key_id: row.keyId, job_count: row.jobCount, callback_url: row.callbackUrl })
    .execute();
}

export async function getSubmission(db: Db, id: string): Promise<SubmissionRow | undefined> {
  return db.selectFrom('br_submissions').selectAll().where('id', '=', id).executeTakeFirst();
}

/**
 * `SELECT state, n` rows (sum them by state) of the jobs of the submission `id` (an expression):
 * the span of its ids counted from uploads, exception rows and the rows above the cursor
 * (src/store/jobs.span-counts.ts), not one `br_jobs` view row per job.
 */
function submissionCountsSql(id: RawBuilder<unknown>) {
  return spanStateCountsSql({ destinationId: submissionDestinationSql(id), spans: submissionSpanSql(id), submissionId: id });
}

/** Live counts by state of a submission's jobs. */
export async function countStatesOfSubmission(db: Db, id: string): Promise<StateCounts> {
  const counts = zeroStateCounts();
  const { rows } = await sql<{ state: JobState; n: string }>`
    SELECT state, sum(n)::bigint AS n FROM (${submissionCountsSql(sql`${id}::text`)}) parts GROUP BY state
  `.execute(db);
  for (const row of rows) counts[row.state] = Number(row.n);
  return counts;
}

/**
 * The first `limit` aborted or cancelled jobs of the submission `id` (an expression), by id, with
 * their reasons. Both states exist only as exception rows, so this reads those rows in the
 * submission's span, never the view.
 */
function firstReasonsSql(id: RawBuilder<unknown>, limit: number) {
  return sql<{ id: string; state: JobState; reason: string | null }>`
    SELECT e.job_id AS id, e.state, e.reason
    FROM ${submissionSpanSql(id)}
    JOIN br_job_exceptions e ON e.job_id BETWEEN q.first_id AND q.last_id AND e.state IN ('aborted', 'cancelled')
    JOIN br_job_rows r ON r.id = e.job_id AND r.submission_id = ${id}
    ORDER BY e.job_id LIMIT ${limit}`;
}

/** The first `limit` jobs (by id) that were aborted or cancelled, with their reasons. */
export async function firstReasonsOfSubmission(db: Db, id: string, limit: number): Promise<JobReason[]> {
  const { rows } = await firstReasonsSql(sql`${id}::text`, limit).execute(db);
  return rows.map((r) => ({ jobId: r.id, state: r.state, reason: r.reason ?? r.state }));
}

/**
 * When the submission's last job finished (its completion time before the finalizer records it):
 * the latest of its exception rows' and of the uploads whose range holds one of its jobs without
 * an exception row (such a job finished with its upload).
 */
export async function lastFinishedAtOfSubmission(db: Db, id: string): Promise<Date | null> {
  const { rows } = await sql<{ at: Date | null }>`
    WITH span AS (SELECT q.first_id, q.last_id FROM ${submissionSpanSql(sql`${id}::text`)})
    SELECT greatest(
      (SELECT max(e.finished_at) FROM span JOIN br_job_exceptions e ON e.job_id BETWEEN span.first_id AND span.last_id
       JOIN br_job_rows r ON r.id = e.job_id AND r.submission_id = ${id}),
      (SELECT max(u.jobs_finished_at) FROM span JOIN br_uploads u
         ON u.destination_id = ${submissionDestinationSql(sql`${id}::text`)} AND u.first_job_id IS NOT NULL
        AND u.first_job_id <= span.last_id AND u.last_job_id >= span.first_id
       WHERE EXISTS (SELECT 1 FROM br_job_rows r
                     WHERE r.submission_id = ${id} AND r.id BETWEEN greatest(span.first_id, u.first_job_id) AND least(span.last_id, u.last_job_id)
                       AND NOT EXISTS (SELECT 1 FROM br_job_exceptions x WHERE x.job_id = r.id)))) AS at
  `.execute(db);
  return rows[0]?.at ?? null;
}

export interface FinalizedSubmission {
  id: string;
  destinationId: string;
  state: SubmissionState;
  summary: SubmissionSummary;
  callbackUrl: string | null;
  createdAt: Date;
  completedAt: Date;
}

/**
 * Records the final state of up to `limit` pending submissions none of whose jobs is still open.
 * Run inside the caller's transaction: rows are locked (SKIP LOCKED, so processes share the work)
 * until the caller has also queued their callbacks, which is what makes "one callback per final
 * state" hold across processes.
 */
export async function finalizeSubmissions(db: Db, limit: number, errorsLimit: number): Promise<FinalizedSubmission[]> {
  const { rows: due } = await sql<{ id: string }>`
    SELECT s.id FROM br_submissions s
    WHERE s.state = 'pending' AND NOT EXISTS (
      SELECT 1 FROM (${submissionCountsSql(sql`s.id`)}) c WHERE c.state IN ('waiting', 'executing', 'importing') AND c.n > 0)
    ORDER BY s.created_at LIMIT ${limit}
    FOR UPDATE SKIP LOCKED
  `.execute(db);
  if (due.length === 0) return [];
  const ids = due.map((r) => r.id);
  const { rows: countRows } = await sql<{ submission_id: string; state: JobState; n: string }>`
    SELECT s.id AS submission_id, c.state, sum(c.n)::bigint AS n FROM unnest(${ids}::text[]) AS s(id)
    CROSS JOIN LATERAL (${submissionCountsSql(sql`s.id`)}) c GROUP BY 1, 2
  `.execute(db);
  const { rows: reasonRows } = await sql<{ submission_id: string; id: string; state: JobState; reason: string | null }>`
    SELECT s.id AS submission_id, r.id, r.state, r.reason FROM unnest(${ids}::text[]) AS s(id)
    CROSS JOIN LATERAL (${firstReasonsSql(sql`s.id`, errorsLimit)}) r
  `.execute(db);
  const summaries = new Map(ids.map((id) => [id, { counts: zeroStateCounts(), errors: [] as JobReason[] }]));
  for (const row of countRows) summaries.get(row.submission_id)!.counts[row.state] = Number(row.n);
  for (const row of reasonRows) {
    summaries.get(row.submission_id)!.errors.push({ jobId: row.id, state: row.state, reason: row.reason ?? row.state });
  }
  const states = ids.map((id) => deriveSubmissionState(summaries.get(id)!.counts));
  const { rows } = await sql<{ id: string; destination_id: string; callback_url: string | null; created_at: Date; completed_at: Date }>`
    UPDATE br_submissions s SET state = t.state, summary = t.summary::jsonb, completed_at = now()
    FROM unnest(${ids}::text[], ${states}::text[], ${ids.map((id) => JSON.stringify(summaries.get(id)))}::text[]) AS t(id, state, summary)
    WHERE s.id = t.id
    RETURNING s.id, s.destination_id, s.callback_url, s.created_at, s.completed_at
  `.execute(db);
  return rows.map((r) => ({
    id: r.id,
    destinationId: r.destination_id,
    state: states[ids.indexOf(r.id)]!,
    summary: summaries.get(r.id)!,
    callbackUrl: r.callback_url,
    createdAt: r.created_at,
    completedAt: r.completed_at,
  }));
}

/** Takes the finalizer's row locks on these submissions, in id order so concurrent callers never deadlock. */
export async function lockSubmissions(db: Db, ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return;
  await sql`SELECT id FROM br_submissions WHERE id = ANY(${ids}::text[]) ORDER BY id FOR UPDATE`.execute(db);
}

/** Final submissions among `ids` are pending again; their next final state gets a new callback. */
export async function reopenSubmissions(db: Db, ids: readonly string[]): Promise<number> {
  if (ids.length === 0) return 0;
  const result = await sql`
    UPDATE br_submissions SET state = 'pending', summary = NULL, completed_at = NULL
    WHERE state <> 'pending' AND id = ANY(${ids}::text[])
  `.execute(db);
  return Number(result.numAffectedRows ?? 0n);
}

/** Retention: final submissions older than `maxAgeMs` whose jobs are all gone (callbacks cascade). */
export async function deleteOldSubmissions(db: Db, maxAgeMs: number, batchSize: number): Promise<number> {
  const result = await sql`
    DELETE FROM br_submissions WHERE id IN (
      SELECT s.id FROM br_submissions s
      WHERE s.state <> 'pending' AND s.completed_at < now() - ${maxAgeMs}::double precision * interval '1 millisecond'
        AND NOT EXISTS (SELECT 1 FROM br_job_rows r WHERE r.submission_id = s.id)
      ORDER BY s.completed_at LIMIT ${batchSize})
  `.execute(db);
  return Number(result.numAffectedRows ?? 0n);
}
