/**
 * What the claim loop reads before it claims: the destination's uploads in flight, its open
 * imports, whether a whole-upload retry is due, whether its claim cursor exists, and its ready
 * backlog, all in one statement (one round trip per claim instead of four). Read under the
 * destination's claim lock, so what it says still holds when the claim runs.
 */
import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { Database } from '../db/schema.ts';
import { prepared } from '../db/prepared-statements.ts';

type Db = Kysely<Database>;

export interface ReadyBacklog {
  /** Jobs ready now, capped at `cap`; null when not counted (the oldest has waited `sendAfterMs`). */
  ready: number | null;
  /** How long the oldest ready job has waited, in database time; 0 when none is ready. */
  oldestWaitMs: number;
  /** When nothing is ready: how soon the next job will be (a retry's next attempt), if any. */
  nextReadyInMs: number | null;
}

export interface ClaimGate {
  /** Uploads of the destination being sent now, by any process. */
  uploading: number;
  /** Vendor imports of the destination still being polled. */
  openImports: number;
  /** An upload waits in `retry_wait` and its next attempt is due. */
  retryDue: boolean;
  /**
   * Milliseconds until the earliest whole-upload retry of the destination is due, when one waits
   * and none is due yet; else null. An idle worker sleeps no longer than this: arrivals wake it
   * through NOTIFY, but a retry coming due sends no notification, and the safety poll is 30 s.
   */
  nextRetryInMs: number | null;
  /** The destination's `br_claim_cursors` row exists (it does from its first enqueue). */
  hasCursor: boolean;
  backlog: ReadyBacklog;
}

/**
 * How long the oldest ready job of a destination has waited or, if none is ready, how soon the
 * next one will be (in database time, so app clocks do not matter), and how many jobs are ready
 * now, capped at `cap` (we only need to know whether a full batch is there). The count is skipped
 * (`ready: null`) once the oldest has waited `sendAfterMs`. A new job is ready from its creation,
 * a retry from its next attempt; both are read from indexes bounded by the backlog, not the history.
 */
export async function readyBacklog(db: Db, destinationId: string, cap: number, sendAfterMs: number): Promise<ReadyBacklog> {
  const { rows } = await sql<BacklogRow>`${backlogSql(destinationId, cap, sendAfterMs)}`.execute(db);
  return backlogOf(rows[0], cap);
}

export async function readClaimGate(
  db: Db,
  destinationId: string,
  options: { cap: number; sendAfterMs: number },
): Promise<ClaimGate> {
  const { rows } = await sql<ClaimGateRow>`${prepared}${claimGateSql(destinationId, options.cap, options.sendAfterMs)}`.execute(db);
  return claimGateOf(rows[0]!, options.cap);
}

/** A value in the gate's SQL: a parameter, or (in the claim function's body) an argument's name. */
export type SqlArgument = string | number | RawBuilder<unknown>;

/** The gate's one row, as `claimGateSql` returns it (also returned by the one-statement claim). */
export interface ClaimGateRow extends BacklogRow {
  uploading: string;
  open_imports: string;
  retry_in_ms: number | null;
  has_cursor: boolean;
}

/** The gate's SELECT (see readClaimGate); shared with the claim function (claim-function.ts). */
export function claimGateSql(dest: SqlArgument, cap: SqlArgument, sendAfterMs: SqlArgument): RawBuilder<ClaimGateRow> {
  return sql<ClaimGateRow>`
    SELECT (SELECT count(*) FROM br_uploads WHERE destination_id = ${dest} AND state = 'uploading') AS uploading,
           (SELECT count(*) FROM br_imports WHERE destination_id = ${dest} AND state = 'polling') AS open_imports,
           (SELECT (extract(epoch FROM min(next_attempt_at) - now()) * 1000)::double precision FROM br_uploads
            WHERE destination_id = ${dest} AND state = 'retry_wait') AS retry_in_ms,
           EXISTS (SELECT 1 FROM br_claim_cursors WHERE destination_id = ${dest}) AS has_cursor,
           b.age_ms, b.ready
    FROM (${backlogSql(dest, cap, sendAfterMs)}) b`;
}

export function claimGateOf(row: ClaimGateRow, cap: number): ClaimGate {
  return {
    uploading: Number(row.uploading),
    openImports: Number(row.open_imports),
    retryDue: row.retry_in_ms !== null && row.retry_in_ms <= 0,
    nextRetryInMs: row.retry_in_ms !== null && row.retry_in_ms > 0 ? Math.ceil(row.retry_in_ms) : null,
    hasCursor: row.has_cursor,
    backlog: backlogOf(row, cap),
  };
}

interface BacklogRow {
  ready: string | null;
  age_ms: number | null;
}

function backlogOf(row: BacklogRow | undefined, cap: number): ReadyBacklog {
  const ageMs = row?.age_ms ?? null;
  const ready = row?.ready ?? null;
  return {
    ready: ready === null ? null : Math.min(cap, Number(ready)),
    oldestWaitMs: ageMs !== null && ageMs >= 0 ? ageMs : 0,
    nextReadyInMs: ageMs !== null && ageMs < 0 ? -ageMs : null,
  };
}

/**
 * One row: `age_ms` (negative: the next retry is that far ahead; null: nothing waits) and `ready`.
 * The count is an InitPlan, run only if the CASE reaches it; the cursor is a scalar subquery so
 * `id > cursor` is an index condition, not a filter over the destination's history.
 */
function backlogSql(destinationId: SqlArgument, cap: SqlArgument, sendAfterMs: SqlArgument) {
  return sql`
    WITH cur AS (
      SELECT coalesce((SELECT claimed_through FROM br_claim_cursors WHERE destination_id = ${destinationId}), 0) AS through
    ), fresh AS (
      SELECT r.id, r.created_at FROM br_job_rows r
      WHERE r.destination_id = ${destinationId} AND r.id > (SELECT through FROM cur)
        AND ${noExceptionRow()}
      ORDER BY r.id
    ), retries AS (
      SELECT next_attempt_at FROM br_job_exceptions
      WHERE destination_id = ${destinationId} AND state = 'waiting' AND upload_id IS NULL
    ), oldest AS (
      SELECT (extract(epoch FROM now() - least((SELECT min(next_attempt_at) FROM retries),
                                                (SELECT created_at FROM fresh LIMIT 1))) * 1000)::double precision AS age_ms
    )
    SELECT age_ms, CASE WHEN age_ms >= ${sendAfterMs}::double precision THEN NULL ELSE (
      SELECT count(*) FROM (
        (SELECT 1 FROM retries WHERE next_attempt_at <= now() LIMIT ${cap})
        UNION ALL
        (SELECT 1 FROM fresh LIMIT ${cap})
      ) r) END AS ready
    FROM oldest`;
}

/**
 * "Job row `r` has no exception row", for the scans above the cursor (the gate's and the claim's):
 * one primary-key probe per row, whatever the statistics say. As NOT EXISTS it was an anti-join
 * whose plan followed the exception partitions' statistics, and a generic plan made while they
 * were empty (a new partition, a destination's first imports) kept a nested loop that re-read
 * every exception row of the destination for each job: with 30,000 jobs importing below the
 * cursor a claim of 500 took 520 ms instead of 5, and one claim of the Marketo bench took 106 s.
 * The probe's condition is the job id alone, its destination compared in the result: with the
 * destination in the condition too, the same empty statistics made the probe use the
 * (destination_id, state) index and read every exception row of the destination per job. A job's
 * exception row always carries the job's destination, so the comparison only keeps the meaning
 * of the destination's rows when the store is distributed by it (docs/store-design.md, Citus).
 */
export function noExceptionRow(): RawBuilder<boolean> {
  return sql<boolean>`(SELECT e.destination_id FROM br_job_exceptions e WHERE e.job_id = r.id) IS DISTINCT FROM r.destination_id`;
}
