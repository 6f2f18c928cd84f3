/**
 * Per-job outcomes of a completed Marketo import, with evidence. The failure and warning files
 * (the original columns plus a reason) are streamed and matched to jobs by the correlation keys
 * persisted at upload time; then the listing is reconciled against Marketo's own totals.
 *
 * A job absent from the failure file counts as succeeded only when the listing accounts for the
 * totals: every failed row Marketo counted is listed, every listed row is one of ours, and the
 * rows processed plus failed are the rows sent. Result files are written asynchronously, so a
 * listing that falls short is read again (`resultRereads` times, one poll apart, by throwing a
 * RetryableError the poll loop answers by asking again). If it still falls short, the jobs whose
 * fate is unknown get code `outcome_unconfirmed` and the `unconfirmedRows` policy decides: re-sent
 * (Marketo imports are insert-or-update, so a repeat is harmless) or aborted.
 */
import type { ImportedJob, JobOutcome, OpenImport } from '../../src/manager/contract.ts';
import { ERROR_CODES } from '../../src/manager/error-codes.ts';
import { RetryableError } from '../../src/manager/errors.ts';
import { JobMatcher, resultRows } from '../_bulk-csv/result-file.ts';
import { marketoCall, type MarketoContext } from './api.ts';
import { isTransientRowReason, rowVendorCode } from './errors.ts';
import { importPaths } from './objects.ts';
import { marketoRowKey } from './row-key.ts';
import { batchStatus, requireHandle, targetOfHandle, type BatchStatus } from './status.ts';
import type { MarketoHandle } from './upload.ts';

/** How long the poll loop should wait before reading result files again. */
const REREAD_AFTER_MS = 5_000;
/** Imports whose re-reads are counted at once; past it the count starts over (it only bounds re-reads). */
const MAX_COUNTED = 10_000;

interface Listing {
  outcomes: JobOutcome[];
  /** Rows in the failure / warning file. */
  failuresListed: number;
  warningsListed: number;
  /** Failure rows that matched no job of the import. */
  strayFailures: number;
  strayWarnings: number;
}

export async function importOutcomes(open: OpenImport, jobs: readonly ImportedJob[], ctx: MarketoContext): Promise<JobOutcome[]> {
  const handle = requireHandle(open);
  const batch = await batchStatus(handle, ctx);
  const listing = await readListing(handle, batch, jobs, ctx);
  const gap = gapOf(handle, batch, listing);
  const key = String(handle.batchId);
  if (gap && !gap.onlyWarnings) {
    const rereads = ctx.session.rereads.get(key) ?? 0;
    if (rereads < ctx.config.resultRereads) {
      if (ctx.session.rereads.size >= MAX_COUNTED) ctx.session.rereads.clear();
      ctx.session.rereads.set(key, rereads + 1);
      throw new RetryableError(`${gap.text}; reading the results of Marketo import ${handle.batchId} again (${rereads + 1} of ${ctx.config.resultRereads})`, {
        retryAfterMs: REREAD_AFTER_MS,
        code: ERROR_CODES.badVendorResponse,
      });
    }
  }
  ctx.session.rereads.delete(key);
  if (listing.strayFailures + listing.strayWarnings > 0) {
    ctx.log.warn({ importId: open.importId, batchId: handle.batchId, strayFailures: listing.strayFailures, strayWarnings: listing.strayWarnings },
      `Marketo import ${handle.batchId} (import ${open.importId}): result rows matched no job of the import`);
  }
  if (!gap || gap.onlyWarnings) return listing.outcomes;
  ctx.log.warn({ importId: open.importId, batchId: handle.batchId, ...batch }, `Marketo import ${handle.batchId} (import ${open.importId}): ${gap.text}; outcome unconfirmed`);
  const mentioned = new Set(listing.outcomes.map((o) => o.jobId));
  const resend = ctx.config.unconfirmedRows === 'resend';
  const reason = `${gap.text}; outcome unconfirmed, ${resend ? 're-sent' : 'not re-sent (unconfirmedRows: "abort")'}`;
  const unconfirmed = jobs.filter((job) => !mentioned.has(job.jobId)).map((job): JobOutcome =>
    resend
      ? { jobId: job.jobId, kind: 'retry', reason, code: ERROR_CODES.outcomeUnconfirmed }
      : { jobId: job.jobId, kind: 'aborted', reason, code: ERROR_CODES.outcomeUnconfirmed });
  // A warned row was imported whatever else went wrong; it keeps its warning and its success.
  return [...listing.outcomes, ...unconfirmed];
}

/** What in the listing fails to add up to the totals, in words; undefined when it all adds up. */
function gapOf(handle: MarketoHandle, batch: BatchStatus, listing: Listing): { text: string; onlyWarnings: boolean } | undefined {
  const problems: string[] = [];
  if (listing.failuresListed !== batch.failed) problems.push(`Marketo counted ${batch.failed} failed rows but listed ${listing.failuresListed}`);
  if (listing.strayFailures > 0) problems.push(`${listing.strayFailures} listed failed rows match no job`);
  if (batch.processed + batch.failed !== handle.rows) problems.push(`Marketo processed ${batch.processed} and failed ${batch.failed} of ${handle.rows} rows sent`);
  if (problems.length > 0) return { text: problems.join('; '), onlyWarnings: false };
  if (listing.warningsListed !== batch.warned) return { text: `Marketo counted ${batch.warned} rows with warnings but listed ${listing.warningsListed}`, onlyWarnings: true };
  return undefined;
}

/**
 * Failed rows → aborted with Marketo's reason (retried when the reason is transient); rows with
 * warnings → succeeded with the warning kept. A file Marketo has not written yet (404) lists nothing.
 */
async function readListing(handle: MarketoHandle, batch: BatchStatus, jobs: readonly ImportedJob[], ctx: MarketoContext): Promise<Listing> {
  const paths = importPaths(targetOfHandle(handle), handle.batchId);
  const matcher = new JobMatcher(jobs);
  const listing: Listing = { outcomes: [], failuresListed: 0, warningsListed: 0, strayFailures: 0, strayWarnings: 0 };
  for (const file of [{ name: 'failures', count: batch.failed }, { name: 'warnings', count: batch.warned }] as const) {
    if (file.count === 0) continue;
    const answer = await marketoCall(ctx, { what: `reading the ${file.name} of import ${handle.batchId}`, method: 'GET', path: paths.file(file.name), file: true });
    if (answer.kind === 'missing') continue;
    if (answer.kind !== 'file' || !answer.response.body) {
      throw new RetryableError(`Marketo sent no ${file.name} file for import ${handle.batchId}`, { code: ERROR_CODES.badVendorResponse });
    }
    const unmatchedBefore = matcher.unmatched;
    for await (const row of resultRows(answer.response.body, handle.columns, { rowKey: marketoRowKey, looseHeader: true })) {
      if (file.name === 'failures') listing.failuresListed += 1;
      else listing.warningsListed += 1;
      const jobId = matcher.take(row.key);
      if (jobId === undefined) continue;
      // The reason is the column Marketo appended: the only one that is not ours.
      const reason = Object.values(row.extra).find((text) => text.trim() !== '') ?? 'no reason given';
      listing.outcomes.push(rowOutcome(jobId, file.name, reason));
    }
    const stray = matcher.unmatched - unmatchedBefore;
    if (file.name === 'failures') listing.strayFailures = stray;
    else listing.strayWarnings = stray;
  }
  return listing;
}

function rowOutcome(jobId: string, file: 'failures' | 'warnings', reason: string): JobOutcome {
  if (file === 'warnings') return { jobId, kind: 'succeeded', warning: `Marketo warning: ${reason}` };
  const vendorCode = rowVendorCode(reason);
  const codes = vendorCode ? { vendorCode } : {};
  if (isTransientRowReason(reason)) return { jobId, kind: 'retry', reason: `Marketo could not import the row yet: ${reason}`, code: ERROR_CODES.recordRetryable, ...codes };
  return { jobId, kind: 'aborted', reason: `Marketo rejected the row: ${reason}`, code: ERROR_CODES.recordRejected, ...codes };
}
