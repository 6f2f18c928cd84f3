/**
 * SQL for `br_jobs` (with `br_job_payloads` written alongside): enqueue, claim and counts; the
 * listing is in `jobs.reporting.ts`, operator actions and retention in `jobs.maintenance.ts`. Router state transitions are in `jobs.transitions.ts`.
 */
import { sql, type Kysely } from 'kysely';
import { isBigintId } from '../db/ids.ts';
import type { Database, JobRow, JobState } from '../db/schema.ts';
import { notifyJobsArrived } from './job-arrivals.notify.ts';

type Db = Kysely<Database>;

/**
 * Inserts jobs and their payloads in one statement. Ids are drawn from the identity sequence up
 * front so payload rows pair with job rows exactly; the returned ids are in input order.
 * `events` are JSON object texts, validated by the caller (the API and `enqueue` do): they are
 * stored and later sent on byte for byte, unchecked.
 */
export async function insertJobs(
  db: Db,
  destinationId: string,
  events: readonly string[],
  submissionId: string | null = null,
): Promise<string[]> {
  if (events.length === 0) return [];
  const { rows } = await sql<{ id: string }>`
    WITH input AS (
      SELECT nextval(pg_get_serial_sequence('br_jobs', 'id')) AS id, payload, ord
      FROM unnest(${events}::text[]) WITH ORDINALITY AS t(payload, ord)
    ), jobs AS (
      INSERT INTO br_jobs (id, destination_id, payload_bytes, submission_id) OVERRIDING SYSTEM VALUE
      SELECT id, ${destinationId}, octet_length(payload), ${submissionId} FROM input
    ), payloads AS (
      INSERT INTO br_job_payloads (job_id, payload) SELECT id, payload FROM input
    )
    SELECT id FROM input ORDER BY ord
  `.execute(db);
  await notifyJobsArrived(db, destinationId);
  return rows.map((row) => row.id);
}

export interface ClaimedJob {
  id: string;
  attempts: number;
  /** The event's stored JSON text; null only if its payload row is missing (the job then aborts). */
  payload: string | null;
}

/**
 * Claims up to `limit` ready jobs of a destination into `uploadId`, stopping before the summed
 * payload bytes pass `maxBytes` (the first job is always taken so an oversized event still gets a
 * verdict). SKIP LOCKED lets several processes claim side by side without waiting on each other.
 * The payloads come back with the claim, in id order, sparing a second round trip that would
 * send every id back to the server.
 */
export async function claimReadyJobs(
  db: Db,
  options: { destinationId: string; uploadId: string; limit: number; maxBytes: number },
): Promise<ClaimedJob[]> {
  const { rows } = await sql<ClaimedJob>`
    WITH candidates AS (
      SELECT id, payload_bytes, next_attempt_at FROM br_jobs
      WHERE destination_id = ${options.destinationId} AND state = 'waiting' AND upload_id IS NULL
        AND next_attempt_at <= now()
      ORDER BY next_attempt_at, id
      LIMIT ${options.limit}
      FOR UPDATE SKIP LOCKED
    ), bounded AS (
      SELECT id FROM (
        SELECT id, payload_bytes, sum(payload_bytes) OVER (ORDER BY next_attempt_at, id) - payload_bytes AS before
        FROM candidates
      ) c WHERE before = 0 OR before + payload_bytes <= ${options.maxBytes}::bigint
    ), claimed AS (
      -- An id array, not a join: the planner would hash-join the whole table for a join.
      UPDATE br_jobs j SET state = 'executing', attempts = j.attempts + 1, upload_id = ${options.uploadId}::bigint,
             updated_at = now()
      WHERE j.id = ANY(ARRAY(SELECT id FROM bounded))
      RETURNING j.id, j.attempts
    )
    SELECT c.id, c.attempts, p.payload FROM claimed c LEFT JOIN br_job_payloads p ON p.job_id = c.id ORDER BY c.id
  `.execute(db);
  return rows;
}

/** Re-claims the waiting jobs of an upload that is being retried as a unit, with their payloads. */
export async function claimJobsOfUpload(db: Db, uploadId: string): Promise<ClaimedJob[]> {
  const { rows } = await sql<ClaimedJob>`
    WITH claimed AS (
      UPDATE br_jobs j SET state = 'executing', attempts = j.attempts + 1, updated_at = now()
      WHERE j.upload_id = ${uploadId}::bigint AND j.state = 'waiting'
      RETURNING j.id, j.attempts
    )
    SELECT c.id, c.attempts, p.payload FROM claimed c LEFT JOIN br_job_payloads p ON p.job_id = c.id ORDER BY c.id
  `.execute(db);
  return rows;
}

/**
 * How long the oldest ready job of a destination has waited or, if none is ready, how soon the
 * next one will be (in database time, so app clocks do not matter), and how many jobs are ready
 * now, capped at `cap` (we only need to know whether a full batch is there). The count is skipped
 * (`ready: null`) once the oldest has waited `sendAfterMs`: a partial batch goes out then anyway,
 * and counting thousands of index entries on every claim of a big backlog is wasted work.
 */
export async function readyBacklog(
  db: Db,
  destinationId: string,
  cap: number,
  sendAfterMs: number,
): Promise<{ ready: number | null; oldestWaitMs: number; nextReadyInMs: number | null }> {
  // The count is an InitPlan, run only if the CASE reaches it.
  const { rows } = await sql<{ ready: string | null; age_ms: number | null }>`
    WITH oldest AS (
      SELECT (extract(epoch FROM now() - min(next_attempt_at)) * 1000)::double precision AS age_ms FROM br_jobs
      WHERE destination_id = ${destinationId} AND state = 'waiting' AND upload_id IS NULL
    )
    SELECT age_ms, CASE WHEN age_ms >= ${sendAfterMs}::double precision THEN NULL ELSE (
      SELECT count(*) FROM (
        SELECT 1 FROM br_jobs WHERE destination_id = ${destinationId} AND state = 'waiting' AND upload_id IS NULL
          AND next_attempt_at <= now() LIMIT ${cap}) r) END AS ready
    FROM oldest
  `.execute(db);
  const ageMs = rows[0]?.age_ms ?? null;
  const ready = rows[0]?.ready ?? null;
  return {
    ready: ready === null ? null : Number(ready),
    oldestWaitMs: ageMs !== null && ageMs >= 0 ? ageMs : 0,
    nextReadyInMs: ageMs !== null && ageMs < 0 ? -ageMs : null,
  };
}

export async function getJob(db: Db, id: string): Promise<JobRow | undefined> {
  if (!isBigintId(id)) return undefined;
  return db.selectFrom('br_jobs').selectAll().where('id', '=', id).executeTakeFirst();
}

/**
 * Job counts by destination and state: unfinished ones from br_jobs_open_idx (an index-only scan
 * that grows with the backlog, not the history), finished ones from br_jobs_finished_idx or, when
 * nearly every row is finished, a parallel scan of the narrow table (the planner's choice).
 */
export async function countByDestinationAndState(
  db: Db,
): Promise<Array<{ destinationId: string; state: JobState; count: number }>> {
  const { rows } = await sql<{ destination_id: string; state: JobState; n: string }>`
    SELECT destination_id, state, count(*) AS n FROM br_jobs
    WHERE state IN ('waiting', 'executing', 'importing') GROUP BY 1, 2
    UNION ALL
    SELECT destination_id, state, count(*) AS n FROM br_jobs
    WHERE state IN ('succeeded', 'aborted', 'cancelled') GROUP BY 1, 2
  `.execute(db);
  return rows.map((r) => ({ destinationId: r.destination_id, state: r.state, count: Number(r.n) }));
}

/** A run of consecutive job ids, both ends included (bigints as strings, like every id here). */
export interface IdRange {
  first: string;
  last: string;
}

/** Zeroed counts for every state, so callers can read any key without a fallback. */
function zeroCounts(): Record<JobState, number> {
  return { waiting: 0, executing: 0, importing: 0, succeeded: 0, aborted: 0, cancelled: 0 };
}

/**
 * Counts by state of a destination's jobs whose ids fall in `ranges` (one aggregate statement,
 * each range an index range scan on the primary key), for `enqueue --wait` to follow exactly the
 * jobs it inserted however many there are. Jobs already deleted by retention are simply not counted.
 */
export async function countStatesInRange(
  db: Db,
  destinationId: string,
  ranges: readonly IdRange[],
): Promise<Record<JobState, number>> {
  const counts = zeroCounts();
  if (ranges.length === 0) return counts;
  const { rows } = await sql<{ state: JobState; n: string }>`
    SELECT j.state, count(*) AS n
    FROM unnest(${ranges.map((r) => r.first)}::bigint[], ${ranges.map((r) => r.last)}::bigint[]) AS r(first_id, last_id)
    JOIN br_jobs j ON j.id BETWEEN r.first_id AND r.last_id AND j.destination_id = ${destinationId}
    GROUP BY j.state
  `.execute(db);
  for (const row of rows) counts[row.state] = Number(row.n);
  return counts;
}

/** Counts by state of the jobs an upload carries (or carried, until they moved on to another). */
export async function countStatesOfUpload(db: Db, uploadId: string): Promise<Record<JobState, number>> {
  const counts = zeroCounts();
  const { rows } = await sql<{ state: JobState; n: string }>`
    SELECT state, count(*) AS n FROM br_jobs WHERE upload_id = ${uploadId}::bigint GROUP BY state
  `.execute(db);
  for (const row of rows) counts[row.state] = Number(row.n);
  return counts;
}
