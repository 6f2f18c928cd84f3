/**
 * Following a bulk import job: its status (`GET /api/profile-bulk-import-jobs/{id}`) and, once
 * complete with failures, each job's outcome from Klaviyo's evidence (import-errors.ts reads it,
 * reconcile.ts decides). Errors are matched back to jobs by the identity key persisted with each
 * job, so this works in a process that never saw the upload.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { ImportedJob, JobOutcome, OpenImport, PollResult } from '../../src/manager/contract.ts';
import { ERROR_CODES } from '../../src/manager/error-codes.ts';
import { RetryableError } from '../../src/manager/errors.ts';
import { JOBS_PATH, klaviyoFailure, klaviyoRequest } from './api.ts';
import type { KlaviyoContext } from './api.ts';
import type { KlaviyoConfig } from './config.ts';
import { jobCount, readImportErrors, readJobTotals } from './import-errors.ts';
import { reconcile, type Reconciliation } from './reconcile.ts';

interface JobAttributes {
  status?: unknown;
  total_count?: unknown;
  completed_count?: unknown;
  failed_count?: unknown;
}

export async function pollImport(open: OpenImport, ctx: KlaviyoContext): Promise<PollResult> {
  const id = klaviyoJobId(open);
  if (!id) return { status: 'failed', retryable: false, reason: 'import handle has no Klaviyo job id; it was not created by klaviyo-bulk-import' };
  const response = await klaviyoRequest(ctx, 'GET', `${JOBS_PATH}/${encodeURIComponent(id)}`);
  if (response.status === 404) {
    // Re-importing is safe (an upsert), losing the profiles is not.
    return { status: 'failed', retryable: true, reason: `Klaviyo has no bulk import job ${id} (404; jobs expire); its profiles will be sent again` };
  }
  if (response.status < 200 || response.status >= 300) throw klaviyoFailure(response, `reading bulk import job ${id}`);
  const attributes = (response.body as { data?: { attributes?: JobAttributes } } | undefined)?.data?.attributes;
  if (typeof attributes?.status !== 'string') throw new RetryableError(`Klaviyo answered reading bulk import job ${id} without a job status`, { code: ERROR_CODES.badVendorResponse });
  const total = jobCount(attributes.total_count);
  const completed = jobCount(attributes.completed_count);
  const failed = jobCount(attributes.failed_count);
  switch (attributes.status) {
    case 'queued':
    case 'processing':
      return total !== undefined && total > 0 ? { status: 'in_progress', progress: Math.min(100, Math.round(((completed ?? 0) / total) * 100)) } : { status: 'in_progress' };
    case 'complete':
      // Only well-formed counts saying every profile completed settle the job without more
      // evidence; profiles not counted as completed, or counts missing or garbled (a negative,
      // a fraction, a total of 0), send it to the import errors and the reconciliation.
      return { status: 'completed', hasRecordFailures: !(total !== undefined && total > 0 && failed === 0 && completed !== undefined && completed >= total) };
    case 'cancelled':
      return { status: 'failed', retryable: true, reason: `Klaviyo cancelled bulk import job ${id}; its profiles will be sent again` };
    default:
      // Unknown is a failure, not a hang; retrying re-sends an upsert, which is harmless.
      return { status: 'failed', retryable: true, reason: `Klaviyo reported bulk import job ${id} as "${attributes.status}", a status this manager does not know; its profiles will be sent again` };
  }
}

/**
 * Each job's outcome: aborted when an import error names its profile; when the listed errors do
 * not account for every failure Klaviyo counted, the errors are read again (they are written
 * asynchronously) up to `resultRereads` times, then the rest follow `unconfirmedPolicy`.
 */
export async function importErrorOutcomes(open: OpenImport, jobs: readonly ImportedJob[], ctx: KlaviyoContext): Promise<JobOutcome[]> {
  const id = klaviyoJobId(open);
  if (!id) throw new RetryableError('import handle has no Klaviyo job id; it was not created by klaviyo-bulk-import');
  const totals = await readJobTotals(id, ctx);
  let verdict: Reconciliation;
  for (let read = 0; ; read += 1) {
    verdict = reconcile(totals, await readImportErrors(id, ctx), jobs, ctx.config.unconfirmedPolicy);
    if (verdict.unaccounted === 0 || read >= ctx.config.resultRereads) break;
    ctx.log.info({ klaviyoJobId: id, counted: verdict.counted, listed: verdict.listed }, 'Klaviyo listed fewer import errors than it counted; reading them again');
    await sleep(ctx.config.resultRereadDelayMs, undefined, { signal: ctx.signal }).catch(() => {
      throw new RetryableError(`reading the import errors of bulk import job ${id} again was cancelled (shutdown or call deadline)`);
    });
  }
  if (verdict.unaccounted > 0 || verdict.stray > 0) {
    ctx.log.warn(
      { importId: open.importId, klaviyoJobId: id, counted: verdict.counted, listed: verdict.listed, stray: verdict.stray, payloadless: verdict.payloadless, policy: ctx.config.unconfirmedPolicy },
      `Klaviyo bulk import job ${id} (import ${open.importId}) is inconsistent: it counted ${verdict.counted} failures but listed ${verdict.listed} that match a job`,
    );
  }
  return verdict.outcomes;
}

function klaviyoJobId(open: OpenImport): string | undefined {
  const id = open.handle.klaviyoJobId;
  return typeof id === 'string' && id !== '' ? id : undefined;
}
