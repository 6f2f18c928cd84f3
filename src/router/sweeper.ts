/**
 * Housekeeping run by every process on a timer: recovers uploads whose worker died (lease
 * expired) so their jobs are re-sent, aborts the waiting jobs of destinations whose config is
 * broken, keeps job partitions made ahead, and drops partitions of jobs finished longer ago
 * than the retention age.
 */
import { abortWaitingOfDestination } from '../store/jobs.maintenance.ts';
import { dropFinishedPartitions, ensureJobPartitions, refreshJobStatistics } from '../store/job-partitions.ts';
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
      const jobIds = await executingJobsOf(trx, upload.id, destinationId);
      const error = `worker ${upload.owner ?? '?'} stopped renewing its lease (crashed or stalled) while sending upload ${upload.id}`;
      const { aborted } = await scheduleRetries(
        trx,
        { state: 'executing', uploadId: upload.id, destinationId },
        jobIds.map((jobId) => ({ jobId, error, code: ERROR_CODES.workerLost })),
        policy,
        true,
      );
      if (aborted > 0) ctx.log.warn({ uploadId: upload.id, aborted }, 'jobs of a crashed upload gave up');
    }
    await finishSettledUploads(trx, expired.map((u) => u.id), destinationId);
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
    await finishSettledUploads(trx, uploadIds, destinationId);
    return aborted;
  });
}

/**
 * Keeps job partitions made ahead of the id sequence and their planner statistics fresh, then drops the partitions whose jobs are all
 * finished longer than `maxAgeMs` ago, then deletes finished uploads of that age whose jobs are
 * gone, batch by batch. Returns how many jobs went.
 */
export async function sweepRetention(
  ctx: RouterContext,
  options: { maxAgeMs: number; batchSize: number; signal: AbortSignal },
): Promise<number> {
  const made = await ensureJobPartitions(ctx.db);
  if (made > 0) ctx.log.info({ partitions: made }, 'made job partitions ahead of the id sequence');
  await refreshJobStatistics(ctx.db);
  if (options.maxAgeMs <= 0) return 0;
  const total = await dropFinishedPartitions(ctx.db, options.maxAgeMs);
  while ((await deleteFinishedUploads(ctx.db, options.maxAgeMs, options.batchSize)) === options.batchSize) {
    if (options.signal.aborted) break;
  }
  if (total > 0) ctx.log.info({ deleted: total }, 'retention: dropped partitions of finished jobs');
  return total;
}
