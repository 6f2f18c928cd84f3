/**
 * Database rows → API resources. Reading a submission prefers live job counts (so a GET right
 * after the last job finished already says so) and falls back to the summary recorded at the
 * final state once retention has deleted the jobs.
 */
import type { Kysely } from 'kysely';
import { latestDeliveryOf } from './store/callback-deliveries.repository.ts';
import type { CallbackDeliveryRow, Database, JobRow, SubmissionRow, SubmissionState } from '../db/schema.ts';
import {
  countStatesOfSubmission,
  deriveSubmissionState,
  firstReasonsOfSubmission,
  lastFinishedAtOfSubmission,
  type JobReason,
  type StateCounts,
  type SubmissionSummary,
} from './store/submissions.repository.ts';
import type { JsonObject } from '../manager/contract.ts';

/** How many failure reasons a submission shows. */
export const ERRORS_SHOWN = 10;

const iso = (d: Date | null | undefined): string | null => (d ? d.toISOString() : null);

export const submissionPath = (id: string) => `/v1/submissions/${encodeURIComponent(id)}`;
export const submissionResultPath = (id: string) => `/v1/jobs?submissionId=${encodeURIComponent(id)}`;

export function withTotal(counts: StateCounts): StateCounts & { total: number } {
  return { ...counts, total: Object.values(counts).reduce((a, b) => a + b, 0) };
}

export function toJob(row: JobRow, payload?: JsonObject): Record<string, unknown> {
  return {
    id: row.id,
    destinationId: row.destination_id,
    state: row.state,
    attempts: row.attempts,
    nextAttemptAt: row.state === 'waiting' ? iso(row.next_attempt_at) : null,
    lastError: row.last_error,
    errorCode: row.error_code,
    vendorCode: row.vendor_code,
    reason: row.reason,
    uploadId: row.upload_id,
    importId: row.import_id,
    submissionId: row.submission_id,
    payloadBytes: row.payload_bytes,
    createdAt: iso(row.created_at),
    updatedAt: iso(row.updated_at),
    finishedAt: iso(row.finished_at),
    ...(payload ? { payload } : {}),
  };
}

export interface SubmissionView {
  resource: Record<string, unknown>;
  /** The key that submitted it (null: the key-less local administrator); only it sees the callback URL in full. */
  ownerKeyId: string | null;
  state: SubmissionState;
  done: boolean;
  progress: number;
  counts: StateCounts & { total: number };
}

function callbackView(row: SubmissionRow, delivery: CallbackDeliveryRow | undefined): Record<string, unknown> | null {
  if (!row.callback_url) return null;
  return {
    url: row.callback_url,
    id: delivery?.id ?? null,
    // 'waiting': no callback event yet, because the submission is not final.
    state: delivery?.state ?? 'waiting',
    attempts: delivery?.attempts ?? 0,
    lastStatus: delivery?.last_status ?? null,
    lastError: delivery?.last_error ?? null,
    lastAttemptAt: iso(delivery?.last_attempt_at),
    nextAttemptAt: delivery?.state === 'pending' ? iso(delivery.next_attempt_at) : null,
    finishedAt: iso(delivery?.finished_at),
  };
}

/**
 * A callback URL as shown to a key that did not set it: scheme, host and port only. Receivers put
 * their credentials in the query (`?token=`), the user info, and often the path itself (Slack- and
 * Discord-style webhook URLs), so all three are hidden, not just the query.
 */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    const hidden = parsed.username !== '' || parsed.password !== '' || parsed.pathname !== '/' || parsed.search !== '' || parsed.hash !== '';
    return `${parsed.protocol}//${parsed.host}/${hidden ? '[redacted]' : ''}`;
  } catch {
    return '[redacted]';
  }
}

/**
 * The submission resource as `viewerKeyId` may see it: the callback URL in full only for the key
 * that submitted it (the key-less local administrator counts as one key), redacted for any other.
 */
export function submissionForViewer(resource: Record<string, unknown>, ownerKeyId: string | null, viewerKeyId: string | null): Record<string, unknown> {
  const callback = resource.callback as { url: string } | null | undefined;
  if (!callback || ownerKeyId === viewerKeyId) return resource;
  return { ...resource, callback: { ...callback, url: redactUrl(callback.url) } };
}

/** The submission resource, built from live counts or, once final and pruned, from its summary. */
export async function loadSubmissionView(db: Kysely<Database>, row: SubmissionRow): Promise<SubmissionView> {
  const live = await countStatesOfSubmission(db, row.id);
  const open = live.waiting + live.executing + live.importing;
  const summary = row.summary as unknown as SubmissionSummary | null;
  let counts: StateCounts;
  let errors: JobReason[];
  let state: SubmissionState;
  if (row.state !== 'pending' && open === 0 && summary) {
    ({ counts, errors } = summary);
    state = row.state;
  } else {
    counts = live;
    state = deriveSubmissionState(live);
    errors = await firstReasonsOfSubmission(db, row.id, ERRORS_SHOWN);
  }
  const withSum = withTotal(counts);
  const done = state !== 'pending';
  const final = withSum.succeeded + withSum.aborted + withSum.cancelled;
  const progress = done ? 100 : Math.floor((final * 100) / Math.max(1, row.job_count));
  const delivery = row.callback_url ? await latestDeliveryOf(db, row.id) : undefined;
  return {
    ownerKeyId: row.key_id,
    state,
    done,
    progress,
    counts: withSum,
    resource: {
      id: row.id,
      destinationId: row.destination_id,
      state,
      done,
      progress,
      counts: withSum,
      createdAt: iso(row.created_at),
      // Between the last job finishing and the callback loop recording it, the jobs say when.
      completedAt: done ? (iso(row.completed_at) ?? iso(await lastFinishedAtOfSubmission(db, row.id))) : null,
      errors,
      callback: callbackView(row, delivery),
      links: { self: submissionPath(row.id), jobs: submissionResultPath(row.id), events: `${submissionPath(row.id)}/events` },
    },
  };
}

/** Body of the callback sent when a submission reaches a final state (Standard Webhooks envelope). */
export function callbackEvent(s: {
  id: string; destinationId: string; state: SubmissionState; summary: SubmissionSummary; createdAt: Date; completedAt: Date;
}): JsonObject {
  return {
    type: 'submission.completed',
    timestamp: new Date().toISOString(),
    data: {
      submissionId: s.id,
      destinationId: s.destinationId,
      state: s.state,
      counts: withTotal(s.summary.counts),
      errors: s.summary.errors as unknown as JsonObject[],
      createdAt: s.createdAt.toISOString(),
      completedAt: s.completedAt.toISOString(),
      statusUrl: submissionPath(s.id),
      resultUrl: submissionResultPath(s.id),
    },
  };
}
