/**
 * Housekeeping run by every process on a timer: recovers uploads whose worker died (lease
 * expired) so their jobs are re-sent, aborts the waiting jobs of destinations whose config is
 * broken, and deletes finished jobs older than the retention age in bounded batches.
 */
import { sql } from 'kysely';
import { deleteFinishedJobs } from '../db/jobs.maintenance.ts';
import { scheduleRetries } from '../db/jobs.transitions.ts';
import { deleteFinishedUploads, expireLeases, finishSettledUploads } from '../db/uploads.repository.ts';
import type { RetryPolicy } from '../db/retry-policy.ts';
import type { RouterContext } from './types.ts';

/** Re-queues the uploads of `destinationId` whose lease expired. Returns how many. */
export async function recoverExpiredUploads(ctx: RouterContext, destinationId: string, policy: RetryPolicy): Promise<number> {
  return ctx.db.transaction().execute(async (trx) => {
    const expired = await expireLeases(trx, destinationId);
    for (const upload of expired) {
      const { rows } = await sql<{ id: string }>`
        SELECT id FROM br_jobs WHERE upload_id = ${upload.id}::bigint AND state = 'executing'`.execute(trx);
      const error = `worker ${upload.owner ?? '?'} stopped renewing its lease (crashed or stalled) while sending upload ${upload.id}`;
      const { aborted } = await scheduleRetries(
        trx,
        { state: 'executing', uploadId: upload.id },
        rows.map((r) => ({ jobId: r.id, error })),
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

/** Aborts everything still waiting for a destination whose config cannot work. */
export async function abortWaitingJobs(ctx: RouterContext, destinationId: string, reason: string): Promise<number> {
  const result = await sql`
    UPDATE br_jobs SET state = 'aborted', reason = ${reason}, last_error = ${reason}, finished_at = now(), updated_at = now()
    WHERE id IN (SELECT id FROM br_jobs WHERE destination_id = ${destinationId} AND state = 'waiting' LIMIT 10000)
  `.execute(ctx.db);
  return Number(result.numAffectedRows ?? 0n);
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
