/**
 * Kysely types for the tables created in `migrations/`. Column meanings are documented here, the
 * single place a reader looks for "what is in that column".
 */
import type { ColumnType, Generated, Insertable, Selectable } from 'kysely';
import type { JsonObject } from '../manager/contract.ts';

/**
 * Life of a job (one event for one destination):
 * - `waiting`: ready to be claimed once `next_attempt_at` has passed (new, or a retry scheduled
 *   after a failure). When `upload_id` is set it waits for its upload's retry, not a new batch.
 * - `executing`: claimed into an upload whose lease a worker holds; being transformed and sent.
 * - `importing`: sent; the vendor is processing its import (`import_id`), which the poll loop tracks.
 * - `succeeded`: delivered (final). `reason` may carry a vendor warning.
 * - `aborted`: will never be delivered (final); `reason` says why in plain words.
 * - `cancelled`: withdrawn by a caller before it was uploaded (final).
 */
export type JobState = 'waiting' | 'executing' | 'importing' | 'succeeded' | 'aborted' | 'cancelled';
export const JOB_STATES: readonly JobState[] = ['waiting', 'executing', 'importing', 'succeeded', 'aborted', 'cancelled'];
export const FINAL_JOB_STATES: readonly JobState[] = ['succeeded', 'aborted', 'cancelled'];

/**
 * Life of an upload (a batch of jobs handed to a manager):
 * - `uploading`: a worker holds its lease (`lease_owner`, `lease_expires_at`) and is sending it.
 * - `retry_wait`: the whole upload failed transiently (or its worker died); it is re-sent with the
 *   same id and jobs at `next_attempt_at`, so managers can make retries idempotent.
 * - `importing`: sent; one or more imports are being polled.
 * - `finished`: every job it carried is final or has left it for a later batch.
 */
export type UploadState = 'uploading' | 'retry_wait' | 'importing' | 'finished';

/** Life of an import (a vendor-side job created by an upload): `polling` → `completed` | `failed`. */
export type ImportState = 'polling' | 'completed' | 'failed';

type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;
type Bigint = ColumnType<string, string | number | bigint, string | number | bigint>;
type NullableText = ColumnType<string | null, string | null | undefined, string | null>;
type NullableTime = ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;

/**
 * `br_jobs` is a view (migration 2026-12-06): one row per job with the columns below, derived from
 * `br_job_rows` (written once), `br_job_exceptions` (the job's own state when it did not simply go
 * with its upload) and the upload whose id range holds it. `UPDATE br_jobs` works (a trigger
 * upserts the exception row under the old values as guard); inserts go to `br_job_rows`.
 */
export interface JobsTable {
  id: Generated<string>;
  destination_id: string;
  state: ColumnType<JobState, JobState | undefined, JobState>;
  /** Claims so far; each claim of the job into an upload attempt counts one (snoozes refund it). */
  attempts: ColumnType<number, number | undefined, number>;
  next_attempt_at: Timestamp;
  /** Start of the retry window: the first failure. Abort needs both limits exhausted. */
  first_failed_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
  upload_id: ColumnType<string | null, Bigint | null | undefined, Bigint | null>;
  import_id: ColumnType<string | null, Bigint | null | undefined, Bigint | null>;
  /** Manager-chosen key persisted at upload time to match vendor result rows after a restart. */
  correlation_key: ColumnType<string | null, string | null | undefined, string | null>;
  payload_bytes: number;
  /** Groups jobs accepted by one API request. */
  submission_id: ColumnType<string | null, string | null | undefined, string | null>;
  /** The most recent failure, kept even after a later success or abort. */
  last_error: ColumnType<string | null, string | null | undefined, string | null>;
  /** Stable code of the most recent failure (src/manager/error-codes.ts), beside `last_error`. */
  error_code: NullableText;
  /** The vendor's own code of the most recent failure, verbatim, when it gave one. */
  vendor_code: NullableText;
  /** Human-readable reason of the final state (abort/cancel cause, or a success warning). */
  reason: ColumnType<string | null, string | null | undefined, string | null>;
  created_at: Timestamp;
  updated_at: Timestamp;
  finished_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
}

/** Append-only: what enqueue writes once per job. Partitioned by id range (1,000,000 per partition). */
export interface JobRowsTable {
  id: Generated<string>;
  destination_id: string;
  submission_id: ColumnType<string | null, string | null | undefined, string | null>;
  payload_bytes: number;
  created_at: Timestamp;
}

/**
 * At most one row per job, only for a job whose state is not its upload range's (retried,
 * aborted, cancelled, warned, importing, moved to another upload). Columns mean what the
 * same-named columns of {@link JobsTable} mean; partitioned like `br_job_rows`.
 */
export interface JobExceptionsTable {
  job_id: Bigint;
  destination_id: string;
  state: JobState;
  attempts: ColumnType<number, number | undefined, number>;
  next_attempt_at: Timestamp;
  first_failed_at: NullableTime;
  upload_id: ColumnType<string | null, Bigint | null | undefined, Bigint | null>;
  import_id: ColumnType<string | null, Bigint | null | undefined, Bigint | null>;
  correlation_key: NullableText;
  last_error: NullableText;
  error_code: NullableText;
  vendor_code: NullableText;
  reason: NullableText;
  updated_at: Timestamp;
  finished_at: NullableTime;
}

/** Per destination: the highest job id handed to an upload. New jobs are the ids above it. */
export interface ClaimCursorsTable {
  destination_id: string;
  claimed_through: Bigint;
}

export interface JobPayloadsTable {
  job_id: Bigint;
  /** The event's JSON text as accepted (always a JSON object; validated at ingest, not here). */
  payload: string;
}

export interface UploadsTable {
  id: Generated<string>;
  destination_id: string;
  manager: string;
  state: UploadState;
  /** 1 for the first send; incremented by each whole-upload retry. */
  attempt: ColumnType<number, number | undefined, number>;
  job_count: number;
  bytes: ColumnType<string, number | string | undefined, number | string>;
  lease_owner: ColumnType<string | null, string | null | undefined, string | null>;
  lease_expires_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
  next_attempt_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
  last_error: ColumnType<string | null, string | null | undefined, string | null>;
  /** Stable code of `last_error`. */
  error_code: NullableText;
  created_at: Timestamp;
  updated_at: Timestamp;
  finished_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
  /** Lowest and highest job id of the range this upload claimed; null for an upload of retries only. */
  first_job_id: ColumnType<string | null, Bigint | null | undefined, Bigint | null>;
  last_job_id: ColumnType<string | null, Bigint | null | undefined, Bigint | null>;
  /** Jobs of the destination in the range (those skipped at claim because they had an exception row included). */
  range_count: ColumnType<number, number | undefined, number>;
  /**
   * State of the range's jobs that have no exception row: `executing` until `markAllSucceeded`,
   * then `succeeded` (finished at `jobs_finished_at`). Kept apart from `state`, which is the
   * upload's own life: the router ends the upload before it records per-job outcomes.
   */
  jobs_state: ColumnType<'executing' | 'succeeded', 'executing' | 'succeeded' | undefined, 'executing' | 'succeeded'>;
  jobs_finished_at: NullableTime;
}

export interface ImportsTable {
  id: Generated<string>;
  upload_id: Bigint;
  destination_id: string;
  /** The manager's import handle (vendor job id, file names), as returned by `upload`. */
  handle: ColumnType<JsonObject, string, string>;
  state: ColumnType<ImportState, ImportState | undefined, ImportState>;
  progress: ColumnType<number | null, number | null | undefined, number | null>;
  poll_count: ColumnType<number, number | undefined, number>;
  next_poll_at: Timestamp;
  lease_owner: ColumnType<string | null, string | null | undefined, string | null>;
  lease_expires_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
  last_error: ColumnType<string | null, string | null | undefined, string | null>;
  /** Stable code of `last_error`. */
  error_code: NullableText;
  /**
   * Jobs of this import whose fate the vendor's results did not confirm (its totals and its listed
   * rows disagreed); each such job carries code `outcome_unconfirmed` and was re-sent or aborted
   * per the manager's policy. Non-zero means the vendor's answer was inconsistent.
   */
  unconfirmed_jobs: ColumnType<number, number | undefined, number>;
  started_at: Timestamp;
  finished_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
}

/**
 * State of a submission (the jobs of one `POST /events`), derived from its jobs' states:
 * `pending` while any job is waiting, executing or importing; once all are final: `completed` (all
 * succeeded), `cancelled` (all cancelled), `failed` (none succeeded, some aborted), else `partial`.
 */
export type SubmissionState = 'pending' | 'completed' | 'failed' | 'partial' | 'cancelled';

export interface SubmissionsTable {
  /** `sub_<random>`; also the `submission_id` of its jobs. */
  id: string;
  destination_id: string;
  /** API key that created it; null when the API ran without keys (loopback only). */
  key_id: string | null;
  job_count: number;
  /** `pending` until the callback loop records the final state (a retry of its jobs reopens it). */
  state: ColumnType<SubmissionState, SubmissionState | undefined, SubmissionState>;
  /** Counts by job state and first errors at the final state: kept after retention deletes the jobs. */
  summary: ColumnType<JsonObject | null, string | null | undefined, string | null>;
  callback_url: string | null;
  created_at: Timestamp;
  completed_at: NullableTime;
}

export interface IdempotencyKeysTable {
  /** Keys are scoped per API key ('' without keys), so two callers can use the same value. */
  key_id: string;
  idempotency_key: string;
  /** SHA-256 of destination and body: a repeat with another body is refused (422). */
  request_hash: string;
  submission_id: string;
  /** The original 202 body, answered again (200) to a repeat. */
  response: ColumnType<JsonObject | null, string | null | undefined, string>;
  created_at: Timestamp;
}

/** Life of a callback: `pending` (retried on schedule) → `delivered` | `failed` (schedule spent) | `gone` (410). */
export type CallbackState = 'pending' | 'delivered' | 'failed' | 'gone';

export interface CallbackDeliveriesTable {
  /** The `webhook-id` header: the same on every attempt, so receivers can deduplicate. */
  id: string;
  submission_id: string;
  url: string;
  /** Exact bytes sent on every attempt (the signature covers them). */
  body: string;
  state: ColumnType<CallbackState, CallbackState | undefined, CallbackState>;
  attempts: ColumnType<number, number | undefined, number>;
  next_attempt_at: Timestamp;
  /** HTTP status of the last attempt; null when it got no answer (refused, timed out). */
  last_status: ColumnType<number | null, number | null | undefined, number | null>;
  last_error: NullableText;
  last_attempt_at: NullableTime;
  lease_owner: NullableText;
  lease_expires_at: NullableTime;
  created_at: Timestamp;
  finished_at: NullableTime;
}

export interface Database {
  br_jobs: JobsTable;
  br_job_rows: JobRowsTable;
  br_job_exceptions: JobExceptionsTable;
  br_claim_cursors: ClaimCursorsTable;
  br_job_payloads: JobPayloadsTable;
  br_uploads: UploadsTable;
  br_imports: ImportsTable;
  br_submissions: SubmissionsTable;
  br_idempotency_keys: IdempotencyKeysTable;
  br_callback_deliveries: CallbackDeliveriesTable;
}

export type JobRow = Selectable<JobsTable>;
export type UploadRow = Selectable<UploadsTable>;
export type ImportRow = Selectable<ImportsTable>;
export type NewJob = Insertable<JobsTable>;
export type SubmissionRow = Selectable<SubmissionsTable>;
export type CallbackDeliveryRow = Selectable<CallbackDeliveriesTable>;
