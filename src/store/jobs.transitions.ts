/**
 * Set-based state transitions of `br_jobs` for the router and poll loop. Each call is one
 * statement over arrays (`unnest`), guarded by the state the caller expects the jobs to be in and
 * the upload or import that owns them, so a zombie worker or a late poll can never overwrite newer
 * state: rows that no longer match the guard are simply not touched, and the returned counts say so.
 * They write the tables directly (`jobs.guarded-write.ts`, `markImporting`, `markAllSucceeded`),
 * never through the `br_jobs` view's per-row trigger.
 */
import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { Database } from '../db/schema.ts';
import type { ErrorCode } from '../manager/error-codes.ts';
import { sameDestination } from './destination-scope.ts';
import { writeGuarded, type GuardedWrite, type JobGuard } from './jobs.guarded-write.ts';
import { exceptionRowsInRangeSql, holdUploadRowSql } from './upload-success.ts';
import { exhaustedSql, gaveUpReasonSql, nextAttemptSql, type RetryPolicy } from './retry-policy.ts';

export type { JobGuard } from './jobs.guarded-write.ts';

type Db = Kysely<Database>;

/** Runs a guarded write; the number of jobs it changed. */
async function countChanged(db: Db, guard: JobGuard, write: GuardedWrite): Promise<number> {
  let n = 0;
  for (const changed of (await writeGuarded(db, guard, write)).values()) n += changed;
  return n;
}

async function count(query: RawBuilder<unknown>, db: Db): Promise<number> {
  const result = await query.execute(db);
  return Number(result.numAffectedRows ?? 0n);
}

export async function markSucceeded(
  db: Db,
  guard: JobGuard,
  items: ReadonlyArray<{ jobId: string; warning?: string | undefined }>,
): Promise<number> {
  if (items.length === 0) return 0;
  return countChanged(db, guard, {
    items: sql`SELECT * FROM unnest(${items.map((i) => i.jobId)}::bigint[], ${items.map((i) => i.warning ?? null)}::text[])
               AS t(id, warning)`,
    set: { state: sql`'succeeded'`, reason: sql`t.warning`, finished_at: sql`now()`, updated_at: sql`now()` },
  });
}

/**
 * Marks every job still under `guard` succeeded, naming none: for the common case where the
 * caller has written every other verdict first. Under an upload guard this is one UPDATE of the
 * upload (its range's jobs without an exception row become succeeded) plus one of the exception
 * rows still executing in it (retries riding along); no per-job row is written for the range.
 * The count is the range's jobs without an exception row plus the exception rows changed, read
 * after the upload row is held (`holdUploadRowSql`), so a verdict committed meanwhile is not counted.
 */
export async function markAllSucceeded(db: Db, guard: JobGuard): Promise<number> {
  if (guard.state === 'importing') {
    return count(
      sql`UPDATE br_job_exceptions SET state = 'succeeded', finished_at = now(), updated_at = now()
          WHERE ${sameDestination(sql.ref('destination_id'), guard.destinationId)}
            AND import_id = ${guard.importId}::bigint AND state = 'importing'`,
      db,
    );
  }
  if (!db.isTransaction) return db.transaction().execute((trx) => markAllSucceeded(trx, guard));
  await holdUploadRowSql(guard.uploadId, guard.destinationId).execute(db);
  const { rows } = await sql<{ n: string }>`
    WITH ranged AS (
      UPDATE br_uploads u SET jobs_state = 'succeeded', jobs_finished_at = now()
      WHERE ${sameDestination(sql.ref('u.destination_id'), guard.destinationId)}
        AND u.id = ${guard.uploadId}::bigint AND u.jobs_state = 'executing' AND u.first_job_id IS NOT NULL
      RETURNING u.range_count - ${exceptionRowsInRangeSql(sql`u`)} AS n
    ), listed AS (
      UPDATE br_job_exceptions SET state = 'succeeded', finished_at = now(), updated_at = now()
      WHERE ${sameDestination(sql.ref('destination_id'), guard.destinationId)}
        AND upload_id = ${guard.uploadId}::bigint AND state = 'executing'
      RETURNING 1
    )
    SELECT coalesce((SELECT sum(n) FROM ranged), 0) + (SELECT count(*) FROM listed) AS n
  `.execute(db);
  return Number(rows[0]?.n ?? 0);
}

/** The codes every failure is recorded with, beside its human reason. */
export interface FailureCodes {
  /** Stable code (src/manager/error-codes.ts). */
  code: ErrorCode;
  /** The vendor's own code, verbatim, when it gave one. */
  vendorCode?: string | undefined;
}

export async function markAborted(
  db: Db,
  guard: JobGuard,
  items: ReadonlyArray<{ jobId: string; reason: string } & FailureCodes>,
): Promise<number> {
  if (items.length === 0) return 0;
  return countChanged(db, guard, {
    items: sql`SELECT * FROM unnest(${items.map((i) => i.jobId)}::bigint[], ${items.map((i) => i.reason)}::text[],
                                    ${items.map((i) => i.code)}::text[], ${items.map((i) => i.vendorCode ?? null)}::text[])
               AS t(id, reason, code, vendor_code)`,
    set: {
      state: sql`'aborted'`, reason: sql`t.reason`, last_error: sql`t.reason`, error_code: sql`t.code`,
      vendor_code: sql`t.vendor_code`, finished_at: sql`now()`, updated_at: sql`now()`,
    },
  });
}

/**
 * Sent jobs now wait on a vendor import; their correlation keys are persisted here. One statement,
 * no trigger: jobs that already have an exception row in this upload (retries riding along) are
 * updated under the guard; plain range jobs of the upload get their row inserted, while the
 * upload's range is held by a share lock and still `executing` (what the view's trigger checks).
 */
export async function markImporting(
  db: Db,
  uploadId: string,
  items: ReadonlyArray<{ jobId: string; importId: string; correlationKey?: string | undefined }>,
  destinationId?: string,
): Promise<number> {
  if (items.length === 0) return 0;
  const inDestination = (column: string) => sameDestination(sql.ref(column), destinationId);
  const { rows } = await sql<{ n: string }>`
    WITH t AS (
      SELECT * FROM unnest(${items.map((i) => i.jobId)}::bigint[], ${items.map((i) => i.importId)}::bigint[],
                           ${items.map((i) => i.correlationKey ?? null)}::text[]) AS t(id, import_id, key)
    ), listed AS (
      UPDATE br_job_exceptions e SET state = 'importing', import_id = t.import_id, correlation_key = t.key, updated_at = now()
      FROM t WHERE ${inDestination('e.destination_id')} AND e.job_id = t.id AND e.state = 'executing' AND e.upload_id = ${uploadId}::bigint
      RETURNING 1
    ), upload AS (
      SELECT id, destination_id, first_job_id, last_job_id FROM br_uploads
      WHERE ${inDestination('destination_id')} AND id = ${uploadId}::bigint AND jobs_state = 'executing' AND first_job_id IS NOT NULL
      FOR SHARE
    ), ranged AS (
      INSERT INTO br_job_exceptions (job_id, destination_id, state, attempts, next_attempt_at, upload_id, import_id,
                                     correlation_key, updated_at)
      SELECT r.id, r.destination_id, 'importing', 1, r.created_at, u.id, t.import_id, t.key, now()
      FROM t JOIN upload u ON t.id BETWEEN u.first_job_id AND u.last_job_id
             JOIN br_job_rows r ON r.id = t.id AND r.destination_id = u.destination_id
      WHERE NOT EXISTS (SELECT 1 FROM br_job_exceptions e WHERE e.destination_id = u.destination_id AND e.job_id = t.id)
      ON CONFLICT (job_id) DO NOTHING
      RETURNING 1
    )
    SELECT (SELECT count(*) FROM listed) + (SELECT count(*) FROM ranged) AS n
  `.execute(db);
  return Number(rows[0]?.n ?? 0);
}

export interface RetryItem extends FailureCodes {
  jobId: string;
  error: string;
  retryAfterMs?: number | undefined;
}

/**
 * Failed jobs go back to `waiting` with backoff, or to `aborted` when both limits are spent.
 * `keepInUpload`: the whole upload will be re-sent with the same id (its jobs keep `upload_id`);
 * otherwise each job leaves the upload and joins a future batch.
 */
export async function scheduleRetries(
  db: Db,
  guard: JobGuard,
  items: readonly RetryItem[],
  policy: RetryPolicy,
  keepInUpload: boolean,
): Promise<{ retried: number; aborted: number }> {
  if (items.length === 0) return { retried: 0, aborted: 0 };
  const exhausted = exhaustedSql(policy);
  // The jitter is drawn once for the statement (see retry-policy.ts): an InitPlan of `t`, which
  // PostgreSQL evaluates once (a CTE with a volatile function is never inlined).
  const byState = await writeGuarded(db, guard, {
    items: sql`SELECT t.*, (SELECT 0.5 + random() * 0.5) AS jitter
               FROM unnest(${items.map((i) => i.jobId)}::bigint[], ${items.map((i) => i.error)}::text[],
                           ${items.map((i) => i.retryAfterMs ?? null)}::double precision[],
                           ${items.map((i) => i.code)}::text[], ${items.map((i) => i.vendorCode ?? null)}::text[])
                    AS t(id, error, retry_after, code, vendor_code)`,
    set: {
      state: sql`CASE WHEN ${exhausted} THEN 'aborted' ELSE 'waiting' END`,
      reason: sql`CASE WHEN ${exhausted} THEN ${gaveUpReasonSql(sql`t.error`)} ELSE NULL END`,
      finished_at: sql`CASE WHEN ${exhausted} THEN now() ELSE NULL END`,
      next_attempt_at: nextAttemptSql(policy, sql`t.retry_after`, sql`t.jitter`),
      first_failed_at: sql`coalesce(j.first_failed_at, now())`,
      last_error: sql`t.error`,
      error_code: sql`t.code`,
      vendor_code: sql`t.vendor_code`,
      upload_id: sql`CASE WHEN ${keepInUpload} AND NOT ${exhausted} THEN j.upload_id
                          WHEN ${exhausted} THEN j.upload_id ELSE NULL END`,
      import_id: sql`CASE WHEN ${exhausted} THEN j.import_id ELSE NULL END`,
      updated_at: sql`now()`,
    },
  });
  const by = (state: string) => byState.get(state) ?? 0;
  return { retried: by('waiting'), aborted: by('aborted') };
}

/**
 * Back to `waiting` without spending the attempt the claim counted: the vendor was busy (queue
 * full), which says nothing about these jobs.
 */
export async function snooze(
  db: Db,
  guard: JobGuard,
  items: ReadonlyArray<{ jobId: string; reason: string; retryAfterMs: number } & FailureCodes>,
  keepInUpload: boolean,
): Promise<number> {
  if (items.length === 0) return 0;
  return countChanged(db, guard, {
    items: sql`SELECT * FROM unnest(${items.map((i) => i.jobId)}::bigint[], ${items.map((i) => i.reason)}::text[],
                                    ${items.map((i) => i.retryAfterMs)}::double precision[],
                                    ${items.map((i) => i.code)}::text[], ${items.map((i) => i.vendorCode ?? null)}::text[])
               AS t(id, reason, retry_after, code, vendor_code)`,
    set: {
      state: sql`'waiting'`, attempts: sql`greatest(j.attempts - 1, 0)`, last_error: sql`t.reason`,
      error_code: sql`t.code`, vendor_code: sql`t.vendor_code`,
      next_attempt_at: sql`now() + t.retry_after * interval '1 millisecond'`,
      upload_id: sql`CASE WHEN ${keepInUpload} THEN j.upload_id ELSE NULL END`,
      import_id: sql`NULL::bigint`, updated_at: sql`now()`,
    },
  });
}

export { executingJobsOf } from './jobs.counts.ts';
