/**
 * Claiming the next upload of a destination. One short transaction per claim, serialized per
 * destination across processes by an advisory lock so the concurrency limits (uploads in flight,
 * open vendor imports) are checked and taken atomically, and new jobs are taken by moving the
 * destination's cursor (jobs.claim.ts). Uploads waiting for a whole-upload retry go before new batches.
 */
import { lockDestinationForClaim } from '../store/destination-lock.ts';
import { claimJobsOfUpload, claimReadyJobs, readyBacklog, type ClaimedJob } from '../store/jobs.repository.ts';
import { countOpenImports } from '../store/imports.repository.ts';
import {
  claimRetryUpload,
  countUploading,
  createUpload,
  endUploadAttempt,
  setUploadSize,
} from '../store/uploads.repository.ts';
import type { ActiveDestination, RouterContext } from './types.ts';

export type ClaimResult =
  | {
      readonly kind: 'claimed';
      readonly uploadId: string;
      readonly attempt: number;
      /** When the upload was first created; the same on every retry. */
      readonly createdAt: Date;
      readonly jobs: ClaimedJob[];
    }
  /** Limits reached: wait until an upload or import finishes. */
  | { readonly kind: 'at-capacity' }
  /** Nothing to send yet; `wakeInMs` says when a partial batch becomes due (if known). */
  | { readonly kind: 'idle'; readonly wakeInMs: number | null };

export async function claimNextUpload(ctx: RouterContext, destination: ActiveDestination): Promise<ClaimResult> {
  const { tuning, manager } = destination;
  const lease = { owner: ctx.workerId, ms: ctx.leaseMs };
  return ctx.db.transaction().execute(async (trx) => {
    await lockDestinationForClaim(trx, destination.id);
    const uploading = await countUploading(trx, destination.id);
    if (uploading >= tuning.uploadConcurrency) return { kind: 'at-capacity' } as const;
    const maxImports = manager.limits.maxConcurrentImports;
    if (maxImports !== undefined && uploading + (await countOpenImports(trx, destination.id)) >= maxImports) {
      return { kind: 'at-capacity' } as const;
    }

    const retry = await claimRetryUpload(trx, destination.id, lease);
    if (retry) {
      const jobs = await claimJobsOfUpload(trx, retry.id);
      if (jobs.length > 0) return { kind: 'claimed', uploadId: retry.id, attempt: retry.attempt, createdAt: retry.created_at, jobs } as const;
      // Every job left the upload meanwhile (cancelled): nothing to resend.
      await endUploadAttempt(trx, { uploadId: retry.id, owner: lease.owner, attempt: retry.attempt, state: 'finished' });
    }

    const backlog = await readyBacklog(trx, destination.id, tuning.maxEventsPerUpload, tuning.uploadIntervalMs);
    // ready === null: not counted, because the oldest job has waited long enough to go out anyway.
    if (backlog.ready === 0) {
      return { kind: 'idle', wakeInMs: backlog.nextReadyInMs } as const;
    }
    const waitedMs = backlog.oldestWaitMs;
    const full = backlog.ready !== null && backlog.ready >= tuning.maxEventsPerUpload;
    if (backlog.ready !== null && !full && waitedMs < tuning.uploadIntervalMs) {
      return { kind: 'idle', wakeInMs: tuning.uploadIntervalMs - waitedMs } as const;
    }

    const { id: uploadId, createdAt } = await createUpload(trx, { destinationId: destination.id, manager: manager.name, lease });
    const jobs = await claimReadyJobs(trx, {
      destinationId: destination.id,
      uploadId,
      limit: tuning.maxEventsPerUpload,
      maxBytes: tuning.maxBytesPerUpload,
    });
    if (jobs.length === 0) {
      // Another process took them between the count and the claim; roll the empty upload back.
      throw new EmptyClaim();
    }
    await setUploadSize(trx, uploadId, jobs.length, 0);
    return { kind: 'claimed', uploadId, attempt: 1, createdAt, jobs } as const;
  }).catch((error: unknown) => {
    if (error instanceof EmptyClaim) return { kind: 'idle', wakeInMs: 0 } as const;
    throw error;
  });
}

class EmptyClaim extends Error {}
