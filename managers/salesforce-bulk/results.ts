/**
 * Following a Salesforce ingest job: `GET /jobs/ingest/{id}` for its state, and at the end
 * `failedResults/` (`sf__Id`, `sf__Error`, then the original columns) and `unprocessedrecords/`
 * (the original columns), streamed and matched to jobs by the correlation keys persisted at
 * upload time. Cancelling sets the job to `Aborted`.
 */
import type { CallContext, ImportedJob, JobOutcome, OpenImport, PollResult } from '../../src/manager/contract.ts';
import { PermanentError } from '../../src/manager/errors.ts';
import { JobMatcher, partHandle, resultRows, unusableHandle } from '../_bulk-csv/result-file.ts';
import { getJob, ingestCall, type IngestJob } from './api.ts';
import type { SalesforceConfig } from './config.ts';
import { isRetryableJobFailure, isTransientRowError } from './errors.ts';
import { abortJob, type SalesforceHandle } from './upload.ts';

const RUNNING = new Set(['Open', 'UploadComplete', 'InProgress']);
const ENDED_EARLY = new Set(['Failed', 'Aborted']);

const isJobId = (value: unknown) => typeof value === 'string' && value !== '';

function requireHandle(open: OpenImport): SalesforceHandle {
  const handle = partHandle<SalesforceHandle>(open.handle, 'jobId', isJobId);
  if (!handle) throw new PermanentError(unusableHandle('Salesforce', 'jobId'));
  return handle;
}

/** Records Salesforce never got to: the job ended early, or finished without counting them all. */
function hasUnprocessed(job: IngestJob, handle: SalesforceHandle): boolean {
  return ENDED_EARLY.has(job.state) || job.numberRecordsProcessed < handle.rows;
}

export async function pollJob(open: OpenImport, ctx: CallContext<SalesforceConfig>): Promise<PollResult> {
  const handle = partHandle<SalesforceHandle>(open.handle, 'jobId', isJobId);
  if (!handle) return { status: 'failed', retryable: false, reason: unusableHandle('Salesforce', 'jobId') };
  const job = await getJob(ctx, handle.jobId);
  if (RUNNING.has(job.state)) {
    return { status: 'in_progress', progress: handle.rows > 0 ? Math.min(100, (100 * job.numberRecordsProcessed) / handle.rows) : 0 };
  }
  if (job.state === 'JobComplete') return { status: 'completed', hasRecordFailures: job.numberRecordsFailed > 0 || hasUnprocessed(job, handle) };
  if (ENDED_EARLY.has(job.state)) {
    // Records processed before the end are final in Salesforce (an insert really happened), so
    // they are settled per row; only a job that did nothing fails as a whole.
    if (job.numberRecordsProcessed > 0) return { status: 'completed', hasRecordFailures: true };
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
 * Failed rows → aborted with `sf__Error` (retried when the error is transient); unprocessed rows →
 * retried. Jobs in neither file are left out: they succeeded.
 */
export async function jobOutcomes(open: OpenImport, jobs: readonly ImportedJob[], ctx: CallContext<SalesforceConfig>): Promise<JobOutcome[]> {
  const handle = requireHandle(open);
  const job = await getJob(ctx, handle.jobId);
  const matcher = new JobMatcher(jobs);
  const outcomes: JobOutcome[] = [];
  const unprocessedReason = `Salesforce did not process this record (job ${job.state}${job.errorMessage ? `: ${job.errorMessage}` : ''})`;
  const files = [
    { path: 'failedResults', wanted: job.numberRecordsFailed > 0 },
    { path: 'unprocessedrecords', wanted: hasUnprocessed(job, handle) },
  ] as const;
  for (const file of files) {
    if (!file.wanted) continue;
    const response = await ingestCall(ctx, {
      what: `reading ${file.path} of ingest job ${handle.jobId}`,
      method: 'GET',
      path: `/${encodeURIComponent(handle.jobId)}/${file.path}/`,
      accept: 'text/csv',
    });
    if (!response.body) continue;
    for await (const row of resultRows(response.body, handle.columns)) {
      const jobId = matcher.take(row.key);
      if (jobId === undefined) continue;
      if (file.path === 'unprocessedrecords') {
        outcomes.push({ jobId, kind: 'retry', reason: unprocessedReason });
        continue;
      }
      const error = row.extra.sf__Error?.trim() || 'no error given';
      outcomes.push(
        isTransientRowError(error)
          ? { jobId, kind: 'retry', reason: `Salesforce could not write the record yet: ${error}` }
          : { jobId, kind: 'aborted', reason: `Salesforce rejected the record: ${error}` },
      );
    }
  }
  if (matcher.unmatched > 0) {
    // Those rows' jobs cannot be told apart from successes; say so loudly rather than guess.
    ctx.log.warn({ jobId: handle.jobId, unmatched: matcher.unmatched }, 'Salesforce result rows matched no job of the import');
  }
  return outcomes;
}

/** The router gave up on the import (it ran past `maxImportDurationMs`): stop Salesforce working on it. */
export async function cancelJob(open: OpenImport, ctx: CallContext<SalesforceConfig>): Promise<void> {
  const handle = partHandle<SalesforceHandle>(open.handle, 'jobId', isJobId);
  if (handle) await abortJob(handle.jobId, ctx);
}
