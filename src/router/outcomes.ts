/**
 * Applying per-job outcomes (from `upload` or `getUploadStats`) to the database: one set-based
 * statement per outcome kind, all under the caller's transaction and guard. Also the check that a
 * manager accounted for every job exactly once, which turns a manager bug into readable retries
 * instead of lost or double-counted jobs.
 */
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { ImportHandle, JobOutcome } from '../manager/contract.ts';
import type { Database } from '../db/schema.ts';
import { markAborted, markAllSucceeded, markSucceeded, scheduleRetries, snooze, type FailureCodes, type JobGuard } from '../store/jobs.transitions.ts';
import { ERROR_CODES } from '../manager/error-codes.ts';
import type { RetryPolicy } from '../store/retry-policy.ts';
import { redactText } from '../logger.ts';

export const MISSING_OUTCOME = 'manager did not report an outcome for this job';

/**
 * Keeps the first verdict for each expected job, drops (and logs) verdicts about jobs that are not
 * in the batch, and adds a retry for every expected job the manager forgot.
 */
export function reconcileOutcomes(
  expected: readonly string[],
  outcomes: readonly JobOutcome[],
  imports: readonly ImportHandle[],
  log: Logger,
): { outcomes: JobOutcome[]; imports: ImportHandle[] } {
  // The usual answer (allSucceeded, per-row results in file order) lists every job once, in
  // order: recognised in one pass without hashing 10,000 ids.
  if (imports.length === 0 && outcomes.length === expected.length && outcomes.every((o, i) => o.jobId === expected[i])) {
    return { outcomes: [...outcomes], imports: [] };
  }
  const pending = new Set(expected);
  const keptImports: ImportHandle[] = [];
  let strays = 0;
  for (const handle of imports) {
    const jobs = handle.jobs.filter((job) => (pending.delete(job.jobId) ? true : (strays++, false)));
    if (jobs.length > 0) keptImports.push({ handle: handle.handle, jobs });
  }
  const kept: JobOutcome[] = [];
  for (const outcome of outcomes) {
    if (pending.delete(outcome.jobId)) kept.push(outcome);
    else strays++;
  }
  if (strays > 0) log.warn({ strays }, 'manager reported outcomes for jobs not in the batch or twice; ignored them');
  if (pending.size > 0) log.warn({ missing: pending.size }, MISSING_OUTCOME);
  for (const jobId of pending) kept.push({ jobId, kind: 'retry', reason: MISSING_OUTCOME, code: ERROR_CODES.noOutcome });
  return { outcomes: kept, imports: keptImports };
}

export interface AppliedCounts {
  succeeded: number;
  aborted: number;
  retried: number;
  snoozed: number;
  /** Outcomes the manager marked `outcome_unconfirmed`: the vendor's totals and rows disagreed. */
  unconfirmed: number;
}

/** How many outcomes say the vendor's results did not confirm the job's fate. */
export function countUnconfirmed(outcomes: readonly JobOutcome[]): number {
  let n = 0;
  for (const o of outcomes) if (o.kind !== 'succeeded' && o.code === ERROR_CODES.outcomeUnconfirmed) n += 1;
  return n;
}

/** The code a failure outcome is recorded with: the manager's own, else one that fits its kind. */
function codesOf(outcome: Exclude<JobOutcome, { kind: 'succeeded' }>): FailureCodes {
  const fallback = outcome.kind === 'aborted' ? ERROR_CODES.recordRejected : outcome.kind === 'snooze' ? ERROR_CODES.vendorBusy : ERROR_CODES.recordRetryable;
  return { code: outcome.code ?? fallback, vendorCode: outcome.vendorCode };
}

/**
 * Writes outcomes under `guard`; jobs that retry leave their upload and join a later batch.
 * `coversGuard`: the caller knows `outcomes` has exactly one verdict for every job still under
 * `guard`, so the plain successes are written without listing their ids, after every other verdict.
 */
export async function applyOutcomes(
  db: Kysely<Database>,
  guard: JobGuard,
  outcomes: readonly JobOutcome[],
  policy: RetryPolicy,
  secrets: readonly string[],
  options: { coversGuard?: boolean } = {},
): Promise<AppliedCounts> {
  const clean = (text: string) => redactText(text, secrets);
  const succeeded: Array<{ readonly jobId: string; readonly warning?: string | undefined }> = [];
  const aborted: Array<{ jobId: string; reason: string } & FailureCodes> = [];
  const retries: Array<{ jobId: string; error: string; retryAfterMs?: number } & FailureCodes> = [];
  const snoozes: Array<{ jobId: string; reason: string; retryAfterMs: number } & FailureCodes> = [];
  let unconfirmed = 0;
  for (const o of outcomes) {
    if (o.kind === 'succeeded') {
      succeeded.push(o.warning ? { jobId: o.jobId, warning: clean(o.warning) } : o);
      continue;
    }
    const codes = codesOf(o);
    if (codes.code === ERROR_CODES.outcomeUnconfirmed) unconfirmed += 1;
    if (o.kind === 'aborted') aborted.push({ jobId: o.jobId, reason: clean(o.reason || 'aborted by the manager'), ...codes });
    else if (o.kind === 'retry') retries.push({ jobId: o.jobId, error: clean(o.reason), ...retryAfter(o.retryAfterMs), ...codes });
    else snoozes.push({ jobId: o.jobId, reason: clean(o.reason), retryAfterMs: Math.max(0, o.retryAfterMs), ...codes });
  }
  const counts: AppliedCounts = { succeeded: 0, aborted: 0, retried: 0, snoozed: 0, unconfirmed };
  // Exceptions first; with coversGuard the plain successes are then whatever is left under the
  // guard, written as one statement (for an upload: one UPDATE of the upload row) without ids.
  const plain = options.coversGuard ? succeeded.filter((o) => !o.warning) : [];
  const listed = options.coversGuard ? succeeded.filter((o) => o.warning) : succeeded;
  counts.succeeded = await markSucceeded(db, guard, listed);
  counts.aborted = await markAborted(db, guard, aborted);
  const retried = await scheduleRetries(db, guard, retries, policy, false);
  counts.retried = retried.retried;
  counts.aborted += retried.aborted;
  counts.snoozed = await snooze(db, guard, snoozes, false);
  if (plain.length > 0) counts.succeeded += await markAllSucceeded(db, guard);
  return counts;
}

function retryAfter(ms: number | undefined): { retryAfterMs?: number } {
  return ms !== undefined && Number.isFinite(ms) && ms > 0 ? { retryAfterMs: ms } : {};
}
