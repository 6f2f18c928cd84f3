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
import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { Database } from '../db/schema.ts';
import { prepared } from '../db/prepared-statements.ts';
import { sameDestination } from './destination-scope.ts';
import { noExceptionRow, type SqlArgument } from './claim-gate.ts';

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
  const { destinationId: dest, uploadId } = options;
  // The cursor row exists from the first enqueue; this covers jobs written by other means.
  await ensureClaimCursor(db, dest);
  const { rows } = await sql<ClaimedJob>`
    WITH ${claimCtes({ ...options, uploadId: sql`${uploadId}::bigint` })}, ranged AS (
      UPDATE br_uploads u SET first_job_id = taken.first_id, last_job_id = taken.last_id, jobs_state = 'executing',
             range_count = ${rangeCountSql(dest)}
      FROM taken WHERE u.destination_id = ${dest} AND u.id = ${uploadId}::bigint AND taken.last_id IS NOT NULL
    )
    ${claimedJobsSql}
  `.execute(db);
  return rows;
}

/** Makes the destination's cursor row if it is missing (jobs written by other means than enqueue). */
export async function ensureClaimCursor(db: Db, destinationId: string): Promise<void> {
  await sql`INSERT INTO br_claim_cursors (destination_id, claimed_through) VALUES (${destinationId}, 0) ON CONFLICT DO NOTHING`.execute(db);
}

/**
 * `claimReadyJobs` and the upload it fills in ONE statement: the upload row is inserted with its
 * lease, job range, range count and job count only if at least one job was taken, so an empty
 * claim leaves nothing behind. The claim loop's hot path (one round trip instead of three).
 * Callers hold the destination's claim lock and have made sure the cursor row exists.
 */
export async function claimNewUpload(
  db: Db,
  options: { destinationId: string; manager: string; lease: { owner: string; ms: number }; limit: number; maxBytes: number },
): Promise<{ uploadId: string; createdAt: Date; jobs: ClaimedJob[] } | undefined> {
  const { destinationId, manager, lease, limit, maxBytes } = options;
  const { rows } = await sql<ClaimedJobRow>`${prepared}${claimNewUploadSql({
    destinationId, manager, owner: lease.owner, leaseMs: lease.ms, limit, maxBytes,
  })}`.execute(db);
  if (rows.length === 0) return undefined;
  const jobs = rows.map(({ id, attempts, payload }) => ({ id, attempts, payload }));
  return { uploadId: rows[0]!.upload_id, createdAt: new Date(rows[0]!.created_ms), jobs };
}

/** The claimed jobs of claimNewUpload, each with the upload's id and creation time (epoch ms). */
export interface ClaimedJobRow extends ClaimedJob {
  upload_id: string;
  created_ms: number;
}

/**
 * What claimNewUpload's statement returns by default: a row per job, with the upload's id and
 * creation time. `claimed` is the claimed jobs (id, attempts, payload), `inserted` the new upload.
 */
const ROW_PER_JOB = sql`
    SELECT j.*, i.id AS upload_id, (extract(epoch FROM i.created_at) * 1000)::float8 AS created_ms
    FROM claimed j, inserted i ORDER BY j.id`;

/**
 * claimNewUpload's statement; its values are parameters, or (in the claim function's body,
 * src/store/claim-function.ts) the function's argument names, and `result` its final SELECT
 * there, over the CTEs `claimed` and `inserted` (see ROW_PER_JOB).
 * The upload's id and creation time ride on every row; the time as epoch milliseconds, since
 * parsing a timestamptz text per row cost more than the rest of the row (measured: 1 ms per 1,000).
 */
export function claimNewUploadSql(options: {
  destinationId: SqlArgument;
  manager: SqlArgument;
  owner: SqlArgument;
  leaseMs: SqlArgument;
  limit: SqlArgument;
  maxBytes: SqlArgument;
  /**
   * Only new jobs: the caller has seen that no job retry is due (the claim function checks under
   * the claim lock). The same jobs as the full claim would take then, for about a third less work
   * per claim: no retry scan, no merge of retries and new jobs by rank, no exception update.
   */
  newJobsOnly?: boolean;
}, result: RawBuilder<unknown> = ROW_PER_JOB): RawBuilder<ClaimedJobRow> {
  const dest = options.destinationId;
  const ctes = options.newJobsOnly ? newJobCtes(options) : claimCtes({ ...options, uploadId: sql`(SELECT id FROM new_upload)` });
  return sql<ClaimedJobRow>`
    WITH new_upload AS (
      SELECT nextval(pg_get_serial_sequence('br_uploads', 'id')) AS id
    ), ${ctes}, inserted AS (
      INSERT INTO br_uploads (id, destination_id, manager, state, job_count, lease_owner, lease_expires_at,
                              first_job_id, last_job_id, jobs_state, range_count)
      OVERRIDING SYSTEM VALUE
      SELECT n.id, ${dest}, ${options.manager}, 'uploading', (SELECT count(*) FROM bounded), ${options.owner},
             now() + ${options.leaseMs}::double precision * interval '1 millisecond',
             taken.first_id, taken.last_id, 'executing',
             CASE WHEN taken.last_id IS NULL THEN 0 ELSE ${rangeCountSql(dest)} END
      FROM new_upload n, taken WHERE EXISTS (SELECT 1 FROM bounded)
      RETURNING id, created_at
    ), claimed AS (${options.newJobsOnly ? newJobsClaimedSql : claimedJobsSql})
    ${result}`;
}

/**
 * The CTEs every claim shares, ending in `bounded` (the jobs taken, retries flagged), `retried`
 * (their exception rows moved into the upload) and `taken` (the new range) with the cursor moved.
 * The cursor is read as a scalar subquery so `id > cursor` is an index condition: as a join
 * filter it made every claim read the destination's jobs from the partition start (measured,
 * 500 per claim over a 100,000 backlog: 26 ms per claim at the end, 3.7 ms with this form).
 */
function claimCtes(options: { destinationId: SqlArgument; uploadId: RawBuilder<unknown>; limit: SqlArgument; maxBytes: SqlArgument }) {
  const { destinationId: dest, uploadId, limit } = options;
  return sql`${cursorCte(dest)}, retries AS (
      SELECT job_id AS id, next_attempt_at FROM br_job_exceptions
      WHERE destination_id = ${dest} AND state = 'waiting' AND upload_id IS NULL AND next_attempt_at <= now()
      ORDER BY next_attempt_at, job_id LIMIT ${limit}
      FOR UPDATE SKIP LOCKED
    ), fresh AS (${newJobsSql(dest, limit)}), candidates AS (
      SELECT * FROM (
        SELECT t.id, r.payload_bytes, true AS retry, row_number() OVER (ORDER BY t.next_attempt_at, t.id) AS ord
        FROM retries t JOIN br_job_rows r ON r.destination_id = ${dest} AND r.id = t.id
        UNION ALL
        SELECT id, payload_bytes, false, ${limit}::bigint + row_number() OVER (ORDER BY id) FROM fresh
      ) c ORDER BY ord LIMIT ${limit}
    ), bounded AS (
      SELECT id, retry FROM (
        SELECT id, retry, payload_bytes, sum(payload_bytes) OVER (ORDER BY ord) - payload_bytes AS before FROM candidates
      ) c WHERE before = 0 OR before + payload_bytes <= ${options.maxBytes}::bigint
    ), retried AS (
      UPDATE br_job_exceptions e SET state = 'executing', attempts = e.attempts + 1, upload_id = ${uploadId},
             import_id = NULL, updated_at = now()
      WHERE e.destination_id = ${dest} AND e.job_id = ANY(ARRAY(SELECT id FROM bounded WHERE retry))
      RETURNING e.job_id AS id, e.attempts
    ), ${takenCtes(dest)}`;
}

/**
 * The claim's CTEs when no job retry is due: `bounded` is the new jobs up to `limit` and
 * `maxBytes` (the first always taken), then `taken` and `moved` as in claimCtes. The byte bound
 * is a running sum over the index scan's id order, so nothing is sorted.
 */
function newJobCtes(options: { destinationId: SqlArgument; limit: SqlArgument; maxBytes: SqlArgument }) {
  const { destinationId: dest, limit } = options;
  return sql`${cursorCte(dest)}, bounded AS (
      SELECT id, false AS retry FROM (
        SELECT id, payload_bytes, sum(payload_bytes) OVER (ORDER BY id) - payload_bytes AS before FROM (${newJobsSql(dest, limit)}) f
      ) c WHERE before = 0 OR before + payload_bytes <= ${options.maxBytes}::bigint
    ), ${takenCtes(dest)}`;
}

/**
 * True when a job retry of the destination is due: the claim's `retries` CTE would find a row.
 * The claim function takes claimCtes' path then, and newJobCtes' otherwise.
 */
export function jobRetryDueSql(dest: SqlArgument): RawBuilder<boolean> {
  return sql<boolean>`EXISTS (
      SELECT 1 FROM br_job_exceptions
      WHERE destination_id = ${dest} AND state = 'waiting' AND upload_id IS NULL AND next_attempt_at <= now()
    )`;
}

/** The destination's cursor row, locked: two claims never read the same cursor value. */
function cursorCte(dest: SqlArgument) {
  return sql`cur AS (
      SELECT claimed_through FROM br_claim_cursors WHERE destination_id = ${dest} FOR UPDATE
    )`;
}

/** Up to `limit` new jobs of the destination: above its cursor and without an exception row. */
function newJobsSql(dest: SqlArgument, limit: SqlArgument) {
  return sql`
      SELECT r.id, r.payload_bytes FROM br_job_rows r
      WHERE r.destination_id = ${dest} AND r.id > (SELECT claimed_through FROM cur)
        AND ${noExceptionRow()}
      ORDER BY r.id LIMIT ${limit}`;
}

/** `taken`, the range of new jobs in `bounded`, and `moved`, the cursor moved past it. */
function takenCtes(dest: SqlArgument) {
  return sql`taken AS (
      SELECT min(id) AS first_id, max(id) AS last_id FROM bounded WHERE NOT retry
    ), moved AS (
      UPDATE br_claim_cursors c SET claimed_through = taken.last_id
      FROM taken WHERE c.destination_id = ${dest} AND taken.last_id IS NOT NULL
    )`;
}

/** Jobs of a destination in the claimed range (what `markAllSucceeded` later counts against). */
function rangeCountSql(dest: SqlArgument) {
  return sql`(SELECT count(*) FROM br_job_rows r WHERE r.destination_id = ${dest} AND r.id BETWEEN taken.first_id AND taken.last_id)`;
}

/**
 * A claimed job's payload, looked up by its key one job at a time. Written as a subquery, not a
 * join, on purpose: the claim runs as a generic plan, whose row estimates for the CTEs are guesses,
 * and one such plan joined by sorting the whole payload partition (a merge join over 400,000 rows,
 * 0.4 s per claim and growing with the partition: the soak's probe fell to 5,000 deliveries/s).
 * A lookup per claimed job is what the work is, whatever the estimates.
 */
const PAYLOAD_OF_C = sql`(SELECT p.payload FROM br_job_payloads p WHERE p.job_id = c.id)`;

/** The claimed jobs (retries and the new range) with their payloads, in id order. */
const claimedJobsSql = sql`
    SELECT c.id, c.attempts, ${PAYLOAD_OF_C} AS payload FROM (
      SELECT id, attempts FROM retried UNION ALL SELECT id, 1 FROM bounded WHERE NOT retry
    ) c ORDER BY c.id`;

/** claimedJobsSql when only new jobs were taken: each at its first attempt. */
const newJobsClaimedSql = sql`
    SELECT c.id, 1 AS attempts, ${PAYLOAD_OF_C} AS payload FROM bounded c ORDER BY c.id`;

/** Re-claims the waiting jobs of an upload that is being retried as a unit, with their payloads. */
export async function claimJobsOfUpload(db: Db, uploadId: string, destinationId?: string): Promise<ClaimedJob[]> {
  const { rows } = await sql<ClaimedJob>`
    WITH claimed AS (
      UPDATE br_job_exceptions e SET state = 'executing', attempts = e.attempts + 1, updated_at = now()
      WHERE ${sameDestination(sql.ref('e.destination_id'), destinationId)} AND e.upload_id = ${uploadId}::bigint AND e.state = 'waiting'
      RETURNING e.job_id AS id, e.attempts
    )
    SELECT c.id, c.attempts, ${PAYLOAD_OF_C} AS payload FROM claimed c ORDER BY c.id
  `.execute(db);
  return rows;
}
