/**
 * Housekeeping run by every process on a timer: recovers uploads whose worker died (lease
 * expired) so their jobs are re-sent, aborts the waiting jobs of destinations whose config is
 * broken, and deletes finished jobs older than the retention age in bounded batches.
 */
import { abortWaitingOfDestination, deleteFinishedJobs } from '../store/jobs.maintenance.ts';
import { executingJobsOf, scheduleRetries } from '../store/jobs.transitions.ts';
import { deleteFinishedUploads, expireLeases, finishSettledUploads } from '../store/uploads.repository.ts';
import type { RetryPolicy } from '../store/retry-policy.ts';
import type { RouterContext } from './types.ts';
import { ERROR_CODES } from '../manager/error-codes.ts';

/** Re-queues the uploads of `destinationId` whose lease expired. Returns how many. */
export async function recoverExpiredUploads(ctx: RouterContext, destinationId: string, policy: RetryPolicy): Promise<number> {
  return ctx.db.transaction().execute(async (trx) => {
    const expired = await expireLeases(trx, destinationId);
    for (const upload of expired) {
      const jobIds = await executingJobsOf(trx, upload.id);
      const error = `worker ${upload.owner ?? '?'} stopped renewing its lease (crashed or stalled) while sending upload ${upload.id}`;
      const { aborted } = await scheduleRetries(
        trx,
        { state: 'executing', uploadId: upload.id },
        jobIds.map((jobId) => ({ jobId, error, code: ERROR_CODES.workerLost })),
        policy,
        true,
      );
      if (aborted > 0) ctx.log.warn({ uploadId: upload.id, aborted }, 'jobs of a crashed upload gave up');
    }
    await finishSettledUploads(trx, expired.map((u) => u.id));
    if (expired.length > 0) ctx.log.warn({ destinationId, uploads: expired.map((u) => u.id) }, 'recovered uploads of a dead worker');
    return expired.length;
  });
}

/**
 * Aborts what still waits for a destination whose config cannot work (up to 10,000 jobs a sweep),
 * and settles the uploads whose retries those jobs were waiting for, so none lingers in retry_wait.
 */
export async function abortWaitingJobs(ctx: RouterContext, destinationId: string, reason: string): Promise<number> {
  return ctx.db.transaction().execute(async (trx) => {
    const { aborted, uploadIds } = await abortWaitingOfDestination(trx, destinationId, reason, 10_000);
    await finishSettledUploads(trx, uploadIds);
    return aborted;
  });
}

/** Deletes finished jobs and uploads older than `maxAgeMs`, batch by batch, until none are left. */
export async function sweepRetention(
  ctx: RouterContext,
  options: { maxAgeMs: number; batchSize: number; signal: AbortSignal },
): Promise<number> {
  if (options.maxAgeMs <= 0) return 0;
  let total = 0;
  for (;;) {
    const deleted = await deleteFinishedJobs(ctx.db, options.maxAgeMs, options.batchSize);
    total += deleted;
    if (deleted < options.batchSize || options.signal.aborted) break;
  }
  while ((await deleteFinishedUploads(ctx.db, options.maxAgeMs, options.batchSize)) === options.batchSize) {
    if (options.signal.aborted) break;
  }
  if (total > 0) ctx.log.info({ deleted: total }, 'retention: deleted finished jobs');
  return total;
}
