/**
 * No job succeeds without Salesforce's evidence. A finished ingest job's totals
 * (`numberRecordsProcessed`, `numberRecordsFailed`, and the rows sent) are checked against the rows
 * its three result sets list, and every job must be matched to a row of its own: a success row, a
 * failure row or an unprocessed row. When they do not add up, the sets are read again (Salesforce
 * writes them asynchronously; they can be incomplete right after JobComplete), at most
 * `resultReads` times. A job whose fate stays unknown gets the destination's unconfirmed-outcome
 * policy (config.ts `unconfirmedPolicy`): re-sent, or aborted, always with code
 * `outcome_unconfirmed` and a reason naming both counts. A success row is not trusted either when
 * the listing contradicts the totals (more success rows than the totals allow, or a failure row no
 * job can account for).
 */
import type { ImportedJob, JobOutcome, OpenImport } from '../../src/manager/contract.ts';
import { ERROR_CODES } from '../../src/manager/error-codes.ts';
import { abortableDelay } from '../../src/util/delay.ts';
import type { IngestJob, SalesforceContext } from './api.ts';
import { unconfirmedPolicy } from './config.ts';
import { isQuotaFailure, isTransientRowError, rowErrorCode } from './errors.ts';
import { readResultSets, type Reading } from './result-sets.ts';
import type { SalesforceHandle } from './upload.ts';

/** Records the org's daily allowance did not cover wait this long before they are sent again. */
const QUOTA_SNOOZE_MS = 60 * 60 * 1000;

/** What the totals say each set must list. */
function expected(job: IngestJob, handle: SalesforceHandle) {
  return {
    success: Math.max(0, job.numberRecordsProcessed - job.numberRecordsFailed),
    failed: job.numberRecordsFailed,
    unprocessed: Math.max(0, handle.rows - job.numberRecordsProcessed),
  };
}

function addsUp(reading: Reading, job: IngestJob, handle: SalesforceHandle, jobCount: number): boolean {
  const want = expected(job, handle);
  const strays = reading.strays.success + reading.strays.failed + reading.strays.unprocessed;
  return (
    strays === 0 &&
    reading.evidence.size === jobCount &&
    reading.listed.success === want.success &&
    reading.listed.failed === want.failed &&
    reading.listed.unprocessed === want.unprocessed
  );
}

/** Reads the result sets until they add up to the totals, at most `resultReads` times. */
export async function readUntilConsistent(ctx: SalesforceContext, handle: SalesforceHandle, job: IngestJob, jobs: readonly ImportedJob[]) {
  let reads = 0;
  for (;;) {
    reads += 1;
    const reading = await readResultSets(ctx, handle, jobs);
    const consistent = addsUp(reading, job, handle, jobs.length);
    if (consistent || reads >= ctx.config.resultReads) return { reading, reads, consistent };
    await abortableDelay(ctx.config.resultRereadDelayMs, ctx.signal);
  }
}

/** One outcome per job of the import, from the last reading. */
export function settle(open: OpenImport, ctx: SalesforceContext, handle: SalesforceHandle, job: IngestJob, jobs: readonly ImportedJob[], read: Awaited<ReturnType<typeof readUntilConsistent>>): JobOutcome[] {
  const { reading, reads, consistent } = read;
  const want = expected(job, handle);
  const unmatched = jobs.filter((j) => !reading.evidence.has(j.jobId)).length;
  // A success row is contradicted when the totals allow fewer successes than listed, or when a
  // failure row matches no job and no job lacking a row can explain it.
  const successDoubted = reading.listed.success > want.success || reading.strays.failed > unmatched;
  const policy = unconfirmedPolicy(ctx.config);
  const reason =
    `Salesforce counted ${job.numberRecordsFailed} failures but listed ${reading.listed.failed} ` +
    `(${job.numberRecordsProcessed} of ${handle.rows} records processed; ${reading.listed.success} successes, ${reading.listed.unprocessed} unprocessed ` +
    `and ${reading.strays.success + reading.strays.failed + reading.strays.unprocessed} rows matching no record listed in ingest job ${handle.jobId} after ${reads} reads); outcome unconfirmed, ` +
    (policy === 'resend' ? `sent again ("${ctx.config.operation}" is idempotent)` : `not sent again ("${ctx.config.operation}" twice could write the record twice): check it in Salesforce`);
  const unconfirmed = (jobId: string): JobOutcome =>
    policy === 'resend' ? { jobId, kind: 'retry', reason, code: ERROR_CODES.outcomeUnconfirmed } : { jobId, kind: 'aborted', reason, code: ERROR_CODES.outcomeUnconfirmed };
  if (!consistent) {
    ctx.log.warn(
      { importId: open.importId, uploadId: open.uploadId, jobId: handle.jobId, totals: { rows: handle.rows, ...want }, listed: reading.listed, strays: reading.strays, unmatched, reads },
      `Salesforce results of import ${open.importId} (ingest job ${handle.jobId}) do not add up to its totals; unconfirmed jobs: ${policy}`,
    );
  }
  return jobs.map(({ jobId }): JobOutcome => {
    const evidence = reading.evidence.get(jobId);
    if (!evidence) return unconfirmed(jobId);
    if (evidence.kind === 'success') return successDoubted ? unconfirmed(jobId) : { jobId, kind: 'succeeded' };
    if (evidence.kind === 'unprocessed') return unprocessedOutcome(jobId, job);
    return failedRowOutcome(jobId, evidence.error);
  });
}

/** A record Salesforce never got to: sent again, after a wait when the org's daily allowance ran out. */
function unprocessedOutcome(jobId: string, job: IngestJob): JobOutcome {
  const why = `job ${job.state}${job.errorMessage ? `: ${job.errorMessage}` : ''}`;
  if (isQuotaFailure(job.errorMessage)) {
    return { jobId, kind: 'snooze', reason: `Salesforce did not process this record: the org's 24-hour Bulk API record allowance ran out (${why})`, retryAfterMs: QUOTA_SNOOZE_MS, code: ERROR_CODES.vendorBusy };
  }
  return { jobId, kind: 'retry', reason: `Salesforce did not process this record (${why})`, code: ERROR_CODES.recordRetryable };
}

function failedRowOutcome(jobId: string, error: string): JobOutcome {
  const vendorCode = rowErrorCode(error) || undefined;
  return isTransientRowError(error)
    ? { jobId, kind: 'retry', reason: `Salesforce could not write the record yet: ${error}`, code: ERROR_CODES.recordRetryable, vendorCode }
    : { jobId, kind: 'aborted', reason: `Salesforce rejected the record: ${error}`, code: ERROR_CODES.recordRejected, vendorCode };
}
