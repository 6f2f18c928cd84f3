/**
 * One set-based write of the jobs a transition names, under its guard, straight into
 * `br_job_exceptions`: what an `UPDATE br_jobs` would do through the view's INSTEAD OF trigger
 * (migrations/2026-12-06T00-00-00_append-only-jobs.ts), without one PL/pgSQL call per job.
 *
 * Under an import guard every job has its exception row (only `markImporting` puts a job in
 * `importing`, and it writes one), so the write is one UPDATE. Under an upload guard a job is
 * either already an exception row of the upload (a retry riding along, or a range job written
 * before): it is updated under the guard; or a plain job of the upload's range without a row: it
 * gets one, inserted while the upload row is held by a share lock and still `jobs_state =
 * 'executing'`, which is exactly the trigger's check (and what serialises it with
 * `markAllSucceeded`, which updates that row). A range job whose range already went final, or that
 * someone else gave a row meanwhile, is left alone (`ON CONFLICT DO NOTHING`), as the trigger does.
 */
import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { Database } from '../db/schema.ts';
import { sameDestination } from './destination-scope.ts';

/**
 * Which jobs a transition may touch. `destinationId`, the destination owning the upload or import,
 * is named in every statement when given (the router always gives it), so a store distributed by
 * destination routes each transition to one shard (docs/store-design.md, "Scaling past one database").
 */
export type JobGuard =
  /** Jobs being sent as part of this upload. */
  | { readonly state: 'executing'; readonly uploadId: string; readonly destinationId?: string }
  /** Jobs waiting on this vendor import. */
  | { readonly state: 'importing'; readonly importId: string; readonly destinationId?: string };

/** The columns of an exception row a transition may set (the trigger copies all of them). */
const EXCEPTION_COLUMNS = [
  'state', 'attempts', 'next_attempt_at', 'first_failed_at', 'upload_id', 'import_id', 'correlation_key',
  'last_error', 'error_code', 'vendor_code', 'reason', 'updated_at', 'finished_at',
] as const;

export type ExceptionColumn = (typeof EXCEPTION_COLUMNS)[number];

export interface GuardedWrite {
  /** A SELECT with one row per named job, `id` its job id; the row is `t` in `set`. */
  items: RawBuilder<unknown>;
  /** New values, as SQL over the job's current values (`j.<column>`) and its item (`t.<column>`). */
  set: Partial<Record<ExceptionColumn, RawBuilder<unknown>>>;
}

/**
 * What a plain range job of upload `u` reads as in the view (job row `r`): these are the `j.`
 * values its new exception row starts from, so `attempts` is the claim's 1 and `next_attempt_at`
 * the job's creation time, as the trigger's `OLD` would give.
 */
const RANGE_JOB_AS_VIEWED = sql`SELECT 'executing'::text AS state, 1 AS attempts, r.created_at AS next_attempt_at,
  NULL::timestamptz AS first_failed_at, u.id AS upload_id, NULL::bigint AS import_id, NULL::text AS correlation_key,
  NULL::text AS last_error, NULL::text AS error_code, NULL::text AS vendor_code, NULL::text AS reason,
  u.created_at AS updated_at, NULL::timestamptz AS finished_at`;

/** Runs one guarded write; how many jobs it changed, by the state each now has. */
export async function writeGuarded(db: Kysely<Database>, guard: JobGuard, write: GuardedWrite): Promise<Map<string, number>> {
  const { rows } = await sql<{ state: string; n: string }>`
    WITH t AS (${write.items}), ${changedSql(guard, write)}
    SELECT state, count(*) AS n FROM changed GROUP BY state`.execute(db);
  return new Map(rows.map((r) => [r.state, Number(r.n)]));
}

/** The CTEs that make the change; `changed` has one row (`state`) per job changed. */
function changedSql(guard: JobGuard, write: GuardedWrite): RawBuilder<unknown> {
  const assignments = sql.join(
    Object.entries(write.set).map(([column, value]) => sql`${sql.ref(column)} = ${value}`),
  );
  const owner =
    guard.state === 'importing'
      ? sql`j.state = 'importing' AND j.import_id = ${guard.importId}::bigint`
      : sql`j.state = 'executing' AND j.upload_id = ${guard.uploadId}::bigint`;
  const listed = sql`${sameDestination(sql.ref('j.destination_id'), guard.destinationId)} AND ${owner}`;
  const update = sql`UPDATE br_job_exceptions j SET ${assignments} FROM t WHERE j.job_id = t.id AND ${listed} RETURNING j.state`;
  if (guard.state === 'importing') return sql`changed AS (${update})`;

  const values = EXCEPTION_COLUMNS.map((column) => write.set[column] ?? sql`j.${sql.ref(column)}`);
  return sql`
    listed AS (${update}),
    upload AS (
      SELECT id, destination_id, first_job_id, last_job_id, created_at FROM br_uploads
      WHERE ${sameDestination(sql.ref('destination_id'), guard.destinationId)}
        AND id = ${guard.uploadId}::bigint AND jobs_state = 'executing' AND first_job_id IS NOT NULL
      FOR SHARE
    ), ranged AS (
      INSERT INTO br_job_exceptions (job_id, destination_id, ${sql.join(EXCEPTION_COLUMNS.map((c) => sql.ref(c)))})
      SELECT r.id, r.destination_id, ${sql.join(values)}
      FROM t JOIN upload u ON t.id BETWEEN u.first_job_id AND u.last_job_id
             JOIN br_job_rows r ON r.id = t.id AND r.destination_id = u.destination_id
             CROSS JOIN LATERAL (${RANGE_JOB_AS_VIEWED}) j
      WHERE NOT EXISTS (SELECT 1 FROM br_job_exceptions e WHERE e.destination_id = u.destination_id AND e.job_id = t.id)
      ON CONFLICT (job_id) DO NOTHING
      RETURNING state
    ), changed AS (SELECT state FROM listed UNION ALL SELECT state FROM ranged)`;
}
