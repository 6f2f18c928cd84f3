/**
 * SQL for `br_uploads`: one row per batch handed to a manager. The upload row carries the lease
 * (one row per batch, so a heartbeat is one small UPDATE however many jobs the batch holds) and
 * every change to it is guarded by lease owner and attempt, which is what stops a zombie worker.
 */
import { sql, type Kysely } from 'kysely';
import { isBigintId } from '../db/ids.ts';
import type { Database, UploadRow, UploadState } from '../db/schema.ts';
import { prepared } from '../db/prepared-statements.ts';
import { sameDestination } from './destination-scope.ts';

type Db = Kysely<Database>;
const ms = (value: number) => sql`${value}::double precision * interval '1 millisecond'`;

export interface Lease {
  owner: string;
  ms: number;
}

export async function createUpload(
  db: Db,
  options: { destinationId: string; manager: string; lease: Lease },
): Promise<{ id: string; createdAt: Date }> {
  const { rows } = await sql<{ id: string; created_at: Date }>`
    INSERT INTO br_uploads (destination_id, manager, state, job_count, lease_owner, lease_expires_at)
    VALUES (${options.destinationId}, ${options.manager}, 'uploading', 0, ${options.lease.owner}, now() + ${ms(options.lease.ms)})
    RETURNING id, created_at
  `.execute(db);
  return { id: rows[0]!.id, createdAt: rows[0]!.created_at };
}

export async function setUploadSize(db: Db, uploadId: string, jobCount: number, bytes: number, destinationId?: string): Promise<void> {
  await sql`UPDATE br_uploads SET job_count = ${jobCount}, bytes = ${bytes}, updated_at = now()
            WHERE ${sameDestination(sql.ref('destination_id'), destinationId)} AND id = ${uploadId}::bigint`.execute(db);
}

/** Takes one upload of the destination whose retry is due, under a fresh lease. */
export async function claimRetryUpload(db: Db, destinationId: string, lease: Lease): Promise<UploadRow | undefined> {
  const { rows } = await sql<UploadRow>`
    UPDATE br_uploads SET state = 'uploading', attempt = attempt + 1, lease_owner = ${lease.owner},
           lease_expires_at = now() + ${ms(lease.ms)}, next_attempt_at = NULL, updated_at = now()
    WHERE destination_id = ${destinationId} AND id = (
      SELECT id FROM br_uploads
      WHERE destination_id = ${destinationId} AND state = 'retry_wait' AND next_attempt_at <= now()
      ORDER BY next_attempt_at LIMIT 1 FOR UPDATE SKIP LOCKED)
    RETURNING *
  `.execute(db);
  return rows[0];
}

/** Uploads of a destination currently being sent, by any process. */
export async function countUploading(db: Db, destinationId: string): Promise<number> {
  const { rows } = await sql<{ n: string }>`
    SELECT count(*) AS n FROM br_uploads WHERE destination_id = ${destinationId} AND state = 'uploading'
  `.execute(db);
  return Number(rows[0]?.n ?? 0);
}

/**
 * Extends the leases this worker still holds; returns the ids it still holds. The router calls it
 * once per destination with `destinationId`, so each call is single-destination.
 */
export async function heartbeat(db: Db, uploadIds: readonly string[], lease: Lease, destinationId?: string): Promise<Set<string>> {
  if (uploadIds.length === 0) return new Set();
  const { rows } = await sql<{ id: string }>`
    UPDATE br_uploads SET lease_expires_at = now() + ${ms(lease.ms)}
    WHERE ${sameDestination(sql.ref('destination_id'), destinationId)}
      AND id = ANY(${uploadIds}::bigint[]) AND state = 'uploading' AND lease_owner = ${lease.owner}
    RETURNING id
  `.execute(db);
  return new Set(rows.map((r) => r.id));
}

/**
 * Ends the current send of an upload, if this worker still owns it (same owner, same attempt).
 * Returns false for a zombie: the caller must then roll back everything it was about to record.
 */
export async function endUploadAttempt(
  db: Db,
  options: {
    uploadId: string;
    /** The upload's destination, named in the statement so it routes to one shard. */
    destinationId?: string;
    owner: string;
    attempt: number;
    state: Exclude<UploadState, 'uploading'>;
    error?: string | null;
    /** Stable code of `error` (src/manager/error-codes.ts). */
    errorCode?: string | null;
    retryAfterMs?: number;
    /** What was sent, recorded in the same statement (`setUploadSize` without its round trip). */
    size?: { jobCount: number; bytes: number };
  },
): Promise<boolean> {
  const size = options.size;
  const result = await sql`${prepared}
    UPDATE br_uploads SET state = ${options.state}, lease_owner = NULL, lease_expires_at = NULL,
      job_count = ${size ? sql`${size.jobCount}` : sql`job_count`}, bytes = ${size ? sql`${size.bytes}` : sql`bytes`},
      last_error = coalesce(${options.error ?? null}, last_error),
      error_code = CASE WHEN ${options.error ?? null}::text IS NULL THEN error_code ELSE ${options.errorCode ?? null} END,
      next_attempt_at = CASE WHEN ${options.state} = 'retry_wait' THEN now() + ${ms(options.retryAfterMs ?? 0)} END,
      finished_at = CASE WHEN ${options.state} = 'finished' THEN now() END,
      updated_at = now()
    WHERE ${sameDestination(sql.ref('destination_id'), options.destinationId)} AND id = ${options.uploadId}::bigint AND state = 'uploading'
      AND lease_owner = ${options.owner} AND attempt = ${options.attempt}
  `.execute(db);
  return Number(result.numAffectedRows ?? 0n) === 1;
}

/**
 * Uploads of a destination whose worker stopped heartbeating: moved to `retry_wait` so the same
 * upload is re-sent. Returns their ids; the caller reschedules their jobs in the same transaction.
 */
export async function expireLeases(db: Db, destinationId: string): Promise<Array<{ id: string; owner: string | null }>> {
  const { rows } = await sql<{ id: string; owner: string | null }>`
    WITH expired AS (
      SELECT id, lease_owner FROM br_uploads
      WHERE destination_id = ${destinationId} AND state = 'uploading' AND lease_expires_at < now()
      FOR UPDATE SKIP LOCKED
    )
    UPDATE br_uploads u SET state = 'retry_wait', next_attempt_at = now(), lease_owner = NULL, lease_expires_at = NULL,
      last_error = 'worker ' || coalesce(expired.lease_owner, '?') || ' stopped renewing its lease (crashed or stalled)',
      error_code = 'worker_lost', updated_at = now()
    FROM expired WHERE u.destination_id = ${destinationId} AND u.id = expired.id
    RETURNING u.id, expired.lease_owner AS owner
  `.execute(db);
  return rows;
}

/** Marks uploads finished once none of their jobs is executing, importing or waiting on them. */
export async function finishSettledUploads(db: Db, uploadIds: readonly string[], destinationId?: string): Promise<void> {
  if (uploadIds.length === 0) return;
  await sql`
    UPDATE br_uploads u SET state = 'finished', finished_at = now(), updated_at = now()
    WHERE ${sameDestination(sql.ref('u.destination_id'), destinationId)}
      AND u.id = ANY(${uploadIds}::bigint[]) AND u.state IN ('importing', 'retry_wait')
      AND NOT EXISTS (SELECT 1 FROM br_imports i
                      WHERE i.destination_id = u.destination_id AND i.upload_id = u.id AND i.state = 'polling')
      AND NOT EXISTS (SELECT 1 FROM br_job_exceptions e
                      WHERE e.destination_id = u.destination_id AND e.upload_id = u.id AND e.state IN ('waiting', 'executing', 'importing'))
      AND NOT (u.jobs_state = 'executing' AND u.first_job_id IS NOT NULL AND u.range_count > (
        SELECT count(*) FROM br_job_exceptions e
        WHERE e.job_id BETWEEN u.first_job_id AND u.last_job_id AND e.destination_id = u.destination_id))
  `.execute(db);
}

export async function getUpload(db: Db, id: string): Promise<UploadRow | undefined> {
  if (!isBigintId(id)) return undefined;
  return db.selectFrom('br_uploads').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function listUploads(
  db: Db,
  filter: { destinationId?: string; states?: readonly UploadState[]; beforeId?: string; limit: number },
): Promise<UploadRow[]> {
  let query = db.selectFrom('br_uploads').selectAll().orderBy('id', 'desc').limit(filter.limit);
  if (filter.destinationId) query = query.where('destination_id', '=', filter.destinationId);
  if (filter.states && filter.states.length > 0) query = query.where('state', 'in', [...filter.states]);
  if (filter.beforeId) query = query.where('id', '<', filter.beforeId);
  return query.execute();
}

/**
 * Retention for uploads: finished ones older than the age whose jobs are all gone (their range's
 * rows and every exception row naming them were dropped with their partitions).
 *
 * Both "gone" checks are scalar subqueries, one index probe per candidate upload, on purpose: written as
 * NOT EXISTS the planner may turn it into an anti join that sorts every job row of the destination
 * and filters the ranges per upload (the soak, 40 minutes in: 21 s per sweep over 1M rows, during
 * which deliveries fell to 2,300/s). A scalar subquery is never pulled up into a join.
 */
export async function deleteFinishedUploads(db: Db, maxAgeMs: number, batchSize: number): Promise<number> {
  const result = await sql`
    DELETE FROM br_uploads u WHERE u.id IN (
      SELECT id FROM br_uploads WHERE state = 'finished' AND finished_at < now() - ${ms(maxAgeMs)}
        AND (SELECT e.job_id FROM br_job_exceptions e WHERE e.destination_id = br_uploads.destination_id
               AND e.upload_id = br_uploads.id LIMIT 1) IS NULL
        AND (SELECT r.id FROM br_job_rows r WHERE r.destination_id = br_uploads.destination_id
               AND r.id BETWEEN br_uploads.first_job_id AND br_uploads.last_job_id LIMIT 1) IS NULL
      ORDER BY finished_at LIMIT ${batchSize})
  `.execute(db);
  return Number(result.numAffectedRows ?? 0n);
}
