/**
 * Following a Marketo import: `GET /bulk/v1/leads/batch/{batchId}.json` for its status, and at the
 * end `failures.json` / `warnings.json` (CSV: the original columns plus a reason column), streamed
 * and matched to jobs by the correlation keys persisted at upload time.
 */
import type { CallContext, ImportedJob, JobOutcome, OpenImport, PollResult } from '../../src/manager/contract.ts';
import { PermanentError, RetryableError } from '../../src/manager/errors.ts';
import { JobMatcher, partHandle, resultRows, unusableHandle } from '../_bulk-csv/result-file.ts';
import { marketoCall } from './api.ts';
import type { MarketoConfig } from './config.ts';
import { isRetryableImportFailure, isTransientRowReason } from './errors.ts';
import type { MarketoHandle } from './upload.ts';

interface BatchStatus {
  status: string;
  numOfLeadsProcessed: number;
  numOfRowsFailed: number;
  numOfRowsWithWarning: number;
  message: string;
}

const isBatchId = (value: unknown) => typeof value === 'number' && Number.isSafeInteger(value);

function requireHandle(open: OpenImport): MarketoHandle {
  const handle = partHandle<MarketoHandle>(open.handle, 'batchId', isBatchId);
  if (!handle) throw new PermanentError(unusableHandle('Marketo', 'batchId'));
  return handle;
}

async function batchStatus(handle: MarketoHandle, ctx: CallContext<MarketoConfig>): Promise<BatchStatus> {
  const answer = await marketoCall(ctx, {
    what: `checking import ${handle.batchId}`,
    method: 'GET',
    path: `/bulk/v1/leads/batch/${encodeURIComponent(handle.batchId)}.json`,
  });
  const result = answer.kind === 'json' ? answer.envelope.result?.[0] : undefined;
  if (!result || typeof result.status !== 'string') throw new RetryableError(`Marketo answered no status for import ${handle.batchId}`);
  const count = (value: unknown) => (typeof value === 'number' && Number.isFinite(value) ? value : 0);
  return {
    status: result.status,
    numOfLeadsProcessed: count(result.numOfLeadsProcessed),
    numOfRowsFailed: count(result.numOfRowsFailed),
    numOfRowsWithWarning: count(result.numOfRowsWithWarning),
    message: typeof result.message === 'string' ? result.message : '',
  };
}

export async function pollImport(open: OpenImport, ctx: CallContext<MarketoConfig>): Promise<PollResult> {
  const handle = partHandle<MarketoHandle>(open.handle, 'batchId', isBatchId);
  if (!handle) return { status: 'failed', retryable: false, reason: unusableHandle('Marketo', 'batchId') };
  const batch = await batchStatus(handle, ctx);
  switch (batch.status) {
    case 'Queued':
    case 'Importing': {
      // numOfLeadsProcessed counts imported leads; failed rows were processed too.
      const done = batch.numOfLeadsProcessed + batch.numOfRowsFailed;
      return { status: 'in_progress', progress: handle.rows > 0 ? Math.min(100, (100 * done) / handle.rows) : 0 };
    }
    case 'Complete':
      return { status: 'completed', hasRecordFailures: batch.numOfRowsFailed > 0, hasWarnings: batch.numOfRowsWithWarning > 0 };
    case 'Failed':
      return {
        status: 'failed',
        retryable: isRetryableImportFailure(batch.message),
        reason: `Marketo import ${handle.batchId} failed: ${batch.message || 'no message given'}`,
      };
    default:
      // A status Marketo may add later: keep polling rather than guess an outcome.
      ctx.log.warn({ batchId: handle.batchId, status: batch.status }, 'unknown Marketo import status; polling on');
      return { status: 'in_progress' };
  }
}

/**
 * Failed rows → aborted with Marketo's reason (retried when the reason is transient); rows with
 * warnings → succeeded with the warning kept. Jobs in neither file are left out: they succeeded.
 */
export async function importOutcomes(
  open: OpenImport,
  jobs: readonly ImportedJob[],
  ctx: CallContext<MarketoConfig>,
): Promise<JobOutcome[]> {
  const handle = requireHandle(open);
  const batch = await batchStatus(handle, ctx);
  const matcher = new JobMatcher(jobs);
  const outcomes: JobOutcome[] = [];
  const files = [
    { name: 'failures', count: batch.numOfRowsFailed },
    { name: 'warnings', count: batch.numOfRowsWithWarning },
  ] as const;
  for (const file of files) {
    if (file.count === 0) continue;
    const answer = await marketoCall(ctx, {
      what: `reading the ${file.name} of import ${handle.batchId}`,
      method: 'GET',
      path: `/bulk/v1/leads/batch/${encodeURIComponent(handle.batchId)}/${file.name}.json`,
      file: true,
    });
    if (answer.kind !== 'file' || !answer.response.body) throw new RetryableError(`Marketo sent no ${file.name} file for import ${handle.batchId}`);
    for await (const row of resultRows(answer.response.body, handle.columns)) {
      const jobId = matcher.take(row.key);
      if (jobId === undefined) continue;
      // The reason is the column Marketo appended: the only one that is not ours.
      const reason = Object.values(row.extra).find((text) => text.trim() !== '') ?? 'no reason given';
      if (file.name === 'warnings') outcomes.push({ jobId, kind: 'succeeded', warning: `Marketo warning: ${reason}` });
      else if (isTransientRowReason(reason)) outcomes.push({ jobId, kind: 'retry', reason: `Marketo could not import the row yet: ${reason}` });
      else outcomes.push({ jobId, kind: 'aborted', reason: `Marketo rejected the row: ${reason}` });
    }
  }
  if (matcher.unmatched > 0) {
    // Those rows' jobs cannot be told apart from successes; say so loudly rather than guess.
    ctx.log.warn({ batchId: handle.batchId, unmatched: matcher.unmatched }, 'Marketo result rows matched no job of the import');
  }
  return outcomes;
}
