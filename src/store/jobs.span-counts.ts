/**
 * Counts by state of the jobs of one destination inside id spans, from the tables rather than
 * the `br_jobs` view, optionally only the jobs of one submission. The view derives each job's
 * state by two index probes per job (its exception row, the upload covering its id); here a span
 * costs one probe per upload it overlaps, one per exception row in it, and an index-only count of
 * the rows above the cursor and of partly covered upload ranges:
 * - exception rows count as their own state;
 * - where the span covers an upload's range, the jobs there count as the upload's `jobs_state`
 *   minus the exception rows among them (`range_count` when the span covers the whole range and
 *   no submission narrows it; an index-only count of the rows otherwise);
 * - jobs above the destination's cursor without an exception row are waiting.
 * Jobs below the cursor outside every range always have an exception row (a claim's range starts
 * at the first id above the cursor it takes, and skips only ids with one; the migration gave every
 * such job one), so those three parts are all of the view's states.
 */
import { sql, type RawBuilder } from 'kysely';
import type { JobState } from '../db/schema.ts';

/** Where the spans come from: SQL fragments, so the same counts run per row of an outer query. */
export interface SpanScope {
  /** The destination (an expression). */
  destinationId: RawBuilder<unknown>;
  /** A FROM item yielding the spans as columns `first_id`, `last_id` (both ends included). */
  spans: RawBuilder<unknown>;
  /** Only the jobs of this submission (an expression), or every job of the destination. */
  submissionId?: RawBuilder<unknown> | undefined;
}

/**
 * `SELECT state, n` rows (several per state: sum them) for the jobs `scope` selects. Spans that
 * overlap each other count their common jobs once per span, as a join of the spans with the view would.
 */
export function spanStateCountsSql(scope: SpanScope): RawBuilder<{ state: JobState; n: string }> {
  const dest = scope.destinationId;
  const sub = scope.submissionId;
  const ofSubmission = (alias: string) => (sub ? sql`AND ${sql.ref(`${alias}.submission_id`)} = ${sub}` : sql``);
  /** Jobs of the scope in [lo, hi] that have an exception row. */
  const exceptionsIn = (lo: RawBuilder<unknown>, hi: RawBuilder<unknown>) => sub
    ? sql`(SELECT count(*) FROM br_job_exceptions x JOIN br_job_rows xr ON xr.id = x.job_id
           WHERE x.job_id BETWEEN ${lo} AND ${hi} AND x.destination_id = ${dest} AND xr.submission_id = ${sub})`
    : sql`(SELECT count(*) FROM br_job_exceptions x WHERE x.job_id BETWEEN ${lo} AND ${hi} AND x.destination_id = ${dest})`;
  /** Jobs of the scope in [lo, hi]: an index-only range count. */
  const rowsIn = (lo: RawBuilder<unknown>, hi: RawBuilder<unknown>) => sub
    ? sql`(SELECT count(*) FROM br_job_rows r WHERE r.submission_id = ${sub} AND r.id BETWEEN ${lo} AND ${hi} AND r.destination_id = ${dest})`
    : sql`(SELECT count(*) FROM br_job_rows r WHERE r.destination_id = ${dest} AND r.id BETWEEN ${lo} AND ${hi})`;
  const lo = sql`greatest(q.first_id, u.first_job_id)`;
  const hi = sql`least(q.last_id, u.last_job_id)`;
  const rangeJobs = sub ? rowsIn(lo, hi) : sql`CASE WHEN q.first_id <= u.first_job_id AND q.last_id >= u.last_job_id
                                                   THEN u.range_count::bigint ELSE ${rowsIn(lo, hi)} END`;
  const above = sql`greatest(q.first_id, cur.through + 1)`;
  return sql<{ state: JobState; n: string }>`
    SELECT e.state, count(*) AS n
    FROM ${scope.spans} JOIN br_job_exceptions e ON e.job_id BETWEEN q.first_id AND q.last_id AND e.destination_id = ${dest}
    ${sub ? sql`JOIN br_job_rows er ON er.id = e.job_id ${ofSubmission('er')}` : sql``}
    GROUP BY e.state
    UNION ALL
    SELECT u.jobs_state, ${rangeJobs} - ${exceptionsIn(lo, hi)}
    FROM ${scope.spans} JOIN br_uploads u ON u.destination_id = ${dest} AND u.first_job_id IS NOT NULL
      AND u.first_job_id <= q.last_id AND u.last_job_id >= q.first_id
    UNION ALL
    SELECT 'waiting', ${rowsIn(above, sql`q.last_id`)} - ${exceptionsIn(above, sql`q.last_id`)}
    FROM ${scope.spans} CROSS JOIN LATERAL (
      SELECT coalesce((SELECT claimed_through FROM br_claim_cursors WHERE destination_id = ${dest}), 0) AS through) cur
    WHERE q.last_id > cur.through`;
}

/** The span of a submission's jobs (lowest to highest id) as a FROM item `q`; empty spans match nothing. */
export function submissionSpanSql(submissionId: RawBuilder<unknown>): RawBuilder<unknown> {
  return sql`(SELECT min(id) AS first_id, max(id) AS last_id FROM br_job_rows WHERE submission_id = ${submissionId}) q`;
}

/** A submission's destination: that of its first job (one enqueue statement writes all of its jobs, for one destination). */
export function submissionDestinationSql(submissionId: RawBuilder<unknown>): RawBuilder<unknown> {
  return sql`(SELECT destination_id FROM br_job_rows WHERE submission_id = ${submissionId} ORDER BY id LIMIT 1)`;
}
