/**
 * Following a Salesforce ingest job: `GET /jobs/ingest/{id}` for its state, and at the end
 * `failedResults/` (`sf__Id`, `sf__Error`, then the original columns) and `unprocessedrecords/`
 * (the original columns), streamed and matched to jobs by the correlation keys persisted at
 * upload time. Cancelling sets the job to `Aborted`.
 */
import type { ImportedJob, JobOutcome, OpenImport, PollResult } from '../../src/manager/contract.ts';
import { PermanentError } from '../../src/manager/errors.ts';
import { partHandle, unusableHandle } from '../_bulk-csv/result-file.ts';
import { getJob, type SalesforceContext } from './api.ts';
import { isQuotaFailure, isRetryableJobFailure } from './errors.ts';
import { readUntilConsistent, settle } from './reconcile.ts';
import { abortJob, type SalesforceHandle } from './upload.ts';

const RUNNING = new Set(['Open', 'UploadComplete', 'InProgress']);
const ENDED_EARLY = new Set(['Failed', 'Aborted']);

const isJobId = (value: unknown) => typeof value === 'string' && value !== '';

function requireHandle(open: OpenImport): SalesforceHandle {
  const handle = partHandle<SalesforceHandle>(open.handle, 'jobId', isJobId);
  if (!handle) throw new PermanentError(unusableHandle('Salesforce', 'jobId'));
  return handle;
}

export async function pollJob(open: OpenImport, ctx: SalesforceContext): Promise<PollResult> {
  const handle = partHandle<SalesforceHandle>(open.handle, 'jobId', isJobId);
  if (!handle) return { status: 'failed', retryable: false, reason: unusableHandle('Salesforce', 'jobId') };
  const job = await getJob(ctx, handle.jobId);
  if (RUNNING.has(job.state)) {
    return { status: 'in_progress', progress: handle.rows > 0 ? Math.min(100, (100 * job.numberRecordsProcessed) / handle.rows) : 0 };
  }
  // `hasRecordFailures` always: every job's outcome is read from the result sets (a success row is
  // the evidence), never inferred from the totals alone.
  if (job.state === 'JobComplete') return { status: 'completed', hasRecordFailures: true };
  if (ENDED_EARLY.has(job.state)) {
    // Records processed before the end are final in Salesforce (an insert really happened), so
    // they are settled per row; only a job that did nothing fails as a whole. A job failed by the
    // org's daily record allowance is settled per row too, so its records wait (snooze) instead
    // of spending attempts.
    if (job.numberRecordsProcessed > 0 || (job.state === 'Failed' && isQuotaFailure(job.errorMessage))) return { status: 'completed', hasRecordFailures: true };
    const why = job.errorMessage || (job.state === 'Aborted' ? 'the job was aborted in Salesforce' : 'no error message given');
    return {
      status: 'failed',
      retryable: job.state === 'Aborted' || isRetryableJobFailure(job.errorMessage),
      reason: `Salesforce ingest job ${handle.jobId} ${job.state === 'Aborted' ? 'was aborted' : 'failed'}: ${why}`,
    };
  }
  ctx.log.warn({ jobId: handle.jobId, state: job.state }, 'unknown Salesforce job state; polling on');
  return { status: 'in_progress' };
}

/**
 * Every job of the import gets its outcome from a row of Salesforce's result sets, checked
 * against the job's totals (reconcile.ts); none is assumed to have succeeded.
 */
export async function jobOutcomes(open: OpenImport, jobs: readonly ImportedJob[], ctx: SalesforceContext): Promise<JobOutcome[]> {
  const handle = requireHandle(open);
  const job = await getJob(ctx, handle.jobId);
  const read = await readUntilConsistent(ctx, handle, job, jobs);
  return settle(open, ctx, handle, job, jobs, read);
}

/** The router gave up on the import (it ran past `maxImportDurationMs`): stop Salesforce working on it. */
export async function cancelJob(open: OpenImport, ctx: SalesforceContext): Promise<void> {
  const handle = partHandle<SalesforceHandle>(open.handle, 'jobId', isJobId);
  if (handle) await abortJob(handle.jobId, ctx);
}
