/**
 * Claiming jobs into an upload, and the backlog probe the claim loop reads first.
 *
 * New jobs are the destination's ids above its cursor (`br_claim_cursors.claimed_through`): a
 * claim takes them by an index range scan, records the range on the upload and moves the cursor;
 * no job row is written. Due retries (exception rows `waiting` outside any upload: the partial
 * index `br_job_exceptions_retry_idx`) go first and become exception rows `executing` in the new
 * upload. Jobs above the cursor that have an exception row (cancelled, aborted while waiting,
 * requeued) are skipped there: their exception row says where they are.
 */
import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/schema.ts';

type Db = Kysely<Database>;

export interface ClaimedJob {
  id: string;
  attempts: number;
  /** The event's stored JSON text; null only if its payload row is missing (the job then aborts). */
  payload: string | null;
}

/**
 * Claims up to `limit` ready jobs of a destination into `uploadId`, retries first, stopping before
 * the summed payload bytes pass `maxBytes` (the first job is always taken so an oversized event
 * still gets a verdict). Callers hold the destination's claim lock (src/store/destination-lock.ts);
 * the cursor row is also locked FOR UPDATE, so even two claims without that lock never share a job
 * (the second reads the cursor the first advanced). The payloads come back with the claim, in id order.
 */
export async function claimReadyJobs(
  db: Db,
  options: { destinationId: string; uploadId: string; limit: number; maxBytes: number },
): Promise<ClaimedJob[]> {
  const { destinationId: dest, uploadId, limit } = options;
  // The cursor row exists from the first enqueue; this covers jobs written by other means.
  await sql`INSERT INTO br_claim_cursors (destination_id, claimed_through) VALUES (${dest}, 0) ON CONFLICT DO NOTHING`.execute(db);
  const { rows } = await sql<ClaimedJob>`
    WITH cur AS (
      SELECT claimed_through FROM br_claim_cursors WHERE destination_id = ${dest} FOR UPDATE
    ), retries AS (
      SELECT job_id AS id, next_attempt_at FROM br_job_exceptions
      WHERE destination_id = ${dest} AND state = 'waiting' AND upload_id IS NULL AND next_attempt_at <= now()
      ORDER BY next_attempt_at, job_id LIMIT ${limit}
      FOR UPDATE SKIP LOCKED
    ), fresh AS (
      SELECT r.id, r.payload_bytes FROM br_job_rows r, cur
      WHERE r.destination_id = ${dest} AND r.id > cur.claimed_through
        AND NOT EXISTS (SELECT 1 FROM br_job_exceptions e WHERE e.job_id = r.id)
      ORDER BY r.id LIMIT ${limit}
    ), candidates AS (
      SELECT * FROM (
        SELECT t.id, r.payload_bytes, true AS retry, row_number() OVER (ORDER BY t.next_attempt_at, t.id) AS ord
        FROM retries t JOIN br_job_rows r ON r.id = t.id
        UNION ALL
        SELECT id, payload_bytes, false, ${limit}::bigint + row_number() OVER (ORDER BY id) FROM fresh
      ) c ORDER BY ord LIMIT ${limit}
    ), bounded AS (
      SELECT id, retry FROM (
        SELECT id, retry, payload_bytes, sum(payload_bytes) OVER (ORDER BY ord) - payload_bytes AS before FROM candidates
      ) c WHERE before = 0 OR before + payload_bytes <= ${options.maxBytes}::bigint
    ), retried AS (
      UPDATE br_job_exceptions e SET state = 'executing', attempts = e.attempts + 1, upload_id = ${uploadId}::bigint,
             import_id = NULL, updated_at = now()
      WHERE e.job_id = ANY(ARRAY(SELECT id FROM bounded WHERE retry))
      RETURNING e.job_id AS id, e.attempts
    ), taken AS (
      SELECT min(id) AS first_id, max(id) AS last_id FROM bounded WHERE NOT retry
    ), moved AS (
      UPDATE br_claim_cursors c SET claimed_through = taken.last_id
      FROM taken WHERE c.destination_id = ${dest} AND taken.last_id IS NOT NULL
    ), ranged AS (
      UPDATE br_uploads u SET first_job_id = taken.first_id, last_job_id = taken.last_id, jobs_state = 'executing',
             range_count = (SELECT count(*) FROM br_job_rows r
                            WHERE r.destination_id = ${dest} AND r.id BETWEEN taken.first_id AND taken.last_id)
      FROM taken WHERE u.id = ${uploadId}::bigint AND taken.last_id IS NOT NULL
    )
    SELECT c.id, c.attempts, p.payload FROM (
      SELECT id, attempts FROM retried UNION ALL SELECT id, 1 FROM bounded WHERE NOT retry
    ) c LEFT JOIN br_job_payloads p ON p.job_id = c.id ORDER BY c.id
  `.execute(db);
  return rows;
}

/** Re-claims the waiting jobs of an upload that is being retried as a unit, with their payloads. */
export async function claimJobsOfUpload(db: Db, uploadId: string): Promise<ClaimedJob[]> {
  const { rows } = await sql<ClaimedJob>`
    WITH claimed AS (
      UPDATE br_job_exceptions e SET state = 'executing', attempts = e.attempts + 1, updated_at = now()
      WHERE e.upload_id = ${uploadId}::bigint AND e.state = 'waiting'
      RETURNING e.job_id AS id, e.attempts
    )
    SELECT c.id, c.attempts, p.payload FROM claimed c LEFT JOIN br_job_payloads p ON p.job_id = c.id ORDER BY c.id
  `.execute(db);
  return rows;
}

/**
 * How long the oldest ready job of a destination has waited or, if none is ready, how soon the
 * next one will be (in database time, so app clocks do not matter), and how many jobs are ready
 * now, capped at `cap` (we only need to know whether a full batch is there). The count is skipped
 * (`ready: null`) once the oldest has waited `sendAfterMs`. A new job is ready from its creation,
 * a retry from its next attempt; both are read from indexes bounded by the backlog, not the history.
 */
export async function readyBacklog(
  db: Db,
  destinationId: string,
  cap: number,
  sendAfterMs: number,
): Promise<{ ready: number | null; oldestWaitMs: number; nextReadyInMs: number | null }> {
  // The count is an InitPlan, run only if the CASE reaches it.
  const { rows } = await sql<{ ready: string | null; age_ms: number | null }>`
    WITH cur AS (
      SELECT coalesce((SELECT claimed_through FROM br_claim_cursors WHERE destination_id = ${destinationId}), 0) AS through
    ), fresh AS (
      SELECT r.id, r.created_at FROM br_job_rows r, cur
      WHERE r.destination_id = ${destinationId} AND r.id > cur.through
        AND NOT EXISTS (SELECT 1 FROM br_job_exceptions e WHERE e.job_id = r.id)
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
    FROM oldest
  `.execute(db);
  const ageMs = rows[0]?.age_ms ?? null;
  const ready = rows[0]?.ready ?? null;
  return {
    ready: ready === null ? null : Math.min(cap, Number(ready)),
    oldestWaitMs: ageMs !== null && ageMs >= 0 ? ageMs : 0,
    nextReadyInMs: ageMs !== null && ageMs < 0 ? -ageMs : null,
  };
}
