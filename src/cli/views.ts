/**
 * JSON shapes of jobs, uploads and imports as the CLI prints them: camelCase, ISO timestamps,
 * ids as strings (they are bigints). Scripts parse these, so fields are only ever added, and the
 * shapes are built field by field rather than by spreading rows, so a new column does not leak out
 * unannounced.
 */
import type { JsonObject } from '../manager/contract.ts';
import type { ImportRow, JobRow, JobState, UploadRow, UploadState } from '../db/schema.ts';
import { isoOrNull } from './output.ts';

export const UPLOAD_STATES: readonly UploadState[] = ['uploading', 'retry_wait', 'importing', 'finished'];

export interface JobJson {
  id: string;
  destinationId: string;
  state: JobState;
  attempts: number;
  nextAttemptAt: string | null;
  reason: string | null;
  lastError: string | null;
  /** Stable code of `lastError` (src/manager/error-codes.ts). */
  errorCode: string | null;
  /** The vendor's own code of `lastError`. */
  vendorCode: string | null;
  uploadId: string | null;
  importId: string | null;
  createdAt: string | null;
  updatedAt: string | null;
  finishedAt: string | null;
  payload?: JsonObject | null;
}

/** `payload` is included only when asked for (undefined leaves the key out). */
export function jobJson(row: JobRow, payload?: JsonObject | null): JobJson {
  return {
    id: row.id,
    destinationId: row.destination_id,
    state: row.state,
    attempts: row.attempts,
    nextAttemptAt: isoOrNull(row.next_attempt_at),
    reason: row.reason,
    lastError: row.last_error,
    errorCode: row.error_code,
    vendorCode: row.vendor_code,
    uploadId: row.upload_id,
    importId: row.import_id,
    createdAt: isoOrNull(row.created_at),
    updatedAt: isoOrNull(row.updated_at),
    finishedAt: isoOrNull(row.finished_at),
    ...(payload !== undefined ? { payload } : {}),
  };
}

/** Everything `job <id>` adds to the listing shape. */
export function jobDetailJson(row: JobRow) {
  return {
    submissionId: row.submission_id,
    payloadBytes: row.payload_bytes,
    firstFailedAt: isoOrNull(row.first_failed_at),
    correlationKey: row.correlation_key,
  };
}

export function uploadJson(row: UploadRow) {
  return {
    id: row.id,
    destinationId: row.destination_id,
    manager: row.manager,
    state: row.state,
    attempt: row.attempt,
    jobCount: row.job_count,
    bytes: Number(row.bytes),
    leaseOwner: row.lease_owner,
    leaseExpiresAt: isoOrNull(row.lease_expires_at),
    nextAttemptAt: isoOrNull(row.next_attempt_at),
    lastError: row.last_error,
    errorCode: row.error_code,
    createdAt: isoOrNull(row.created_at),
    updatedAt: isoOrNull(row.updated_at),
    finishedAt: isoOrNull(row.finished_at),
  };
}

export function importJson(row: ImportRow) {
  return {
    id: row.id,
    uploadId: row.upload_id,
    destinationId: row.destination_id,
    state: row.state,
    handle: row.handle,
    progress: row.progress,
    pollCount: row.poll_count,
    nextPollAt: isoOrNull(row.next_poll_at),
    lastError: row.last_error,
    errorCode: row.error_code,
    unconfirmedJobs: row.unconfirmed_jobs,
    startedAt: isoOrNull(row.started_at),
    finishedAt: isoOrNull(row.finished_at),
  };
}

/**
 * When a waiting job will next be tried, and why then. A job inside an upload that is waiting to
 * be retried goes with that upload, not on its own schedule. Null for jobs that are not waiting.
 */
export function nextTry(job: JobRow, upload: UploadRow | undefined): { at: Date; because: string } | null {
  if (job.state !== 'waiting') return null;
  if (job.upload_id !== null && upload?.state === 'retry_wait' && upload.next_attempt_at) {
    return { at: upload.next_attempt_at, because: `with the retry of upload ${upload.id}` };
  }
  const because = job.first_failed_at ? 'retry after a failure' : 'first attempt';
  return { at: job.next_attempt_at, because };
}
