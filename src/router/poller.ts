/**
 * The poll loop: claims due imports (of destinations this process serves) under a short lease,
 * asks the manager how each is doing, and applies the verdict to its jobs. Everything it needs is
 * in the database (import handle, correlation keys), so it resumes after a restart as if nothing
 * happened. An import running past `maxImportDurationMs` is failed and its jobs retried.
 */
import type { Logger } from 'pino';
import type { JobOutcome, OpenImport, PollResult } from '../manager/contract.ts';
import { classify, failureLogFields, toError } from '../manager/errors.ts';
import { claimDueImports, finishImport, jobsOfImport, schedulePoll } from '../store/imports.repository.ts';
import { markAborted, markSucceeded, scheduleRetries } from '../store/jobs.transitions.ts';
import { finishSettledUploads } from '../store/uploads.repository.ts';
import type { ImportRow } from '../db/schema.ts';
import { redactText } from '../logger.ts';
import { formatDuration } from '../util/duration.ts';
import { applyOutcomes, countUnconfirmed } from './outcomes.ts';
import { ERROR_CODES, type ErrorCode } from '../manager/error-codes.ts';
import { callSignal } from './call-signal.ts';
import type { ActiveDestination, RouterContext } from './types.ts';

const POLL_BATCH = 20;

/** One round: poll every due import once. Returns how many were polled. */
export async function pollDueImports(ctx: RouterContext, destinations: ReadonlyMap<string, ActiveDestination>): Promise<number> {
  const due = await claimDueImports(ctx.db, {
    destinationIds: [...destinations.keys()],
    lease: { owner: ctx.workerId, ms: ctx.leaseMs },
    limit: POLL_BATCH,
  });
  await Promise.all(
    due.map(async (row) => {
      const destination = destinations.get(row.destination_id);
      if (!destination) return;
      const log = ctx.log.child({ destinationId: row.destination_id, uploadId: row.upload_id, importId: row.id });
      try {
        await pollOne(ctx, destination, row, log);
      } catch (error) {
        // The lease lapses and another round retries; nothing was half-applied (one transaction).
        log.error({ err: toError(error) }, 'applying a poll result failed');
      }
    }),
  );
  return due.length;
}

async function pollOne(ctx: RouterContext, destination: ActiveDestination, row: ImportRow, log: Logger): Promise<void> {
  const open: OpenImport = {
    importId: row.id,
    uploadId: row.upload_id,
    handle: row.handle,
    startedAt: row.started_at.getTime(),
    pollCount: row.poll_count,
  };
  const { tuning, manager } = destination;
  const callCtx = (deadline: number, signal: AbortSignal) => ({
    config: destination.config, destinationId: destination.id, signal, deadline, log, session: destination.session,
  });
  /** Schedules another poll for a transient failure (returns undefined); returns a permanent one. */
  const pollAgainIfTransient = async (error: unknown, message: string) => {
    const failure = classify(error);
    if (failure.action !== 'retry' && failure.action !== 'snooze') return failure;
    log.warn(failureLogFields(error, failure), message);
    const inMs = Math.max(failure.retryAfterMs ?? 0, tuning.pollIntervalMs);
    await schedulePoll(ctx.db, { importId: row.id, destinationId: row.destination_id, owner: ctx.workerId, progress: null, inMs });
    return undefined;
  };
  const runningForMs = Date.now() - open.startedAt;
  let result: PollResult;
  if (runningForMs > tuning.maxImportDurationMs) {
    result = {
      status: 'failed',
      retryable: true,
      code: ERROR_CODES.importExpired,
      reason: `import did not finish within ${formatDuration(tuning.maxImportDurationMs)} (maxImportDurationMs); last progress ${row.progress ?? 'unknown'}%`,
    };
    await withDeadline(ctx, tuning.uploadTimeoutMs, async (d, s) => manager.cancelImport?.(open, callCtx(d, s))).catch((error) =>
      log.warn({ err: toError(error) }, 'could not cancel the overdue import at the vendor'),
    );
  } else {
    try {
      result = await withDeadline(ctx, tuning.uploadTimeoutMs, (d, s) => manager.poll(open, callCtx(d, s)));
    } catch (error) {
      // The vendor did not answer this time; the import itself is not known to have failed.
      const failure = await pollAgainIfTransient(error, 'poll failed; will poll again');
      if (!failure) return;
      result = { status: 'failed', retryable: false, reason: failure.message, code: failure.code, vendorCode: failure.vendorCode };
    }
  }

  if (result.status === 'in_progress') {
    const progress = typeof result.progress === 'number' ? Math.max(0, Math.min(100, result.progress)) : null;
    const inMs = Math.max(result.retryAfterMs ?? 0, tuning.pollIntervalMs);
    await schedulePoll(ctx.db, { importId: row.id, destinationId: row.destination_id, owner: ctx.workerId, progress, inMs });
    return;
  }

  const jobs = await jobsOfImport(ctx.db, row.id, row.destination_id);
  let outcomes: readonly JobOutcome[] | undefined;
  if (result.status === 'completed' && (result.hasRecordFailures || result.hasWarnings)) {
    try {
      outcomes = await withDeadline(ctx, tuning.uploadTimeoutMs, (d, s) => manager.getUploadStats(open, jobs, callCtx(d, s)));
    } catch (error) {
      // The result file could not be read this time; the import itself is done, so ask again soon.
      const failure = await pollAgainIfTransient(error, 'reading per-record results failed; will try again');
      if (!failure) return;
      // The results can never be read: the import's jobs cannot be told apart, so they all fail.
      result = {
        status: 'failed', retryable: false, reason: `per-record results unreadable: ${failure.message}`,
        code: failure.code, vendorCode: failure.vendorCode,
      };
    }
  }
  const guard = { state: 'importing', importId: row.id, destinationId: row.destination_id } as const;
  const secrets = destination.secrets;
  const unconfirmedJobs = outcomes ? countUnconfirmed(outcomes) : 0;
  await ctx.db.transaction().execute(async (trx) => {
    const state = result.status === 'completed' ? 'completed' : 'failed';
    const error = result.status === 'failed' ? redactText(result.reason, secrets) : null;
    const codes = result.status === 'failed' ? { code: (result.code ?? ERROR_CODES.importFailed) as ErrorCode, vendorCode: result.vendorCode } : undefined;
    const finished = await finishImport(trx, { importId: row.id, destinationId: row.destination_id, owner: ctx.workerId, state, error, errorCode: codes?.code, unconfirmedJobs });
    if (!finished) return;
    if (result.status === 'failed') {
      const items = jobs.map((j) => ({ jobId: j.jobId, error: `vendor import failed: ${error}`, ...codes! }));
      if (result.retryable) await scheduleRetries(trx, guard, items, tuning, false);
      else await markAborted(trx, guard, items.map((i) => ({ jobId: i.jobId, reason: i.error, ...codes! })));
    } else if (outcomes) {
      const mentioned = new Set(outcomes.map((o) => o.jobId));
      const rest = jobs.filter((j) => !mentioned.has(j.jobId)).map((j) => ({ jobId: j.jobId, kind: 'succeeded' as const }));
      await applyOutcomes(trx, guard, [...outcomes, ...rest], tuning, secrets);
    } else {
      await markSucceeded(trx, guard, jobs.map((j) => ({ jobId: j.jobId })));
    }
    await finishSettledUploads(trx, [row.upload_id], row.destination_id);
  });
  if (unconfirmedJobs > 0) {
    // The vendor's totals and its listed rows disagreed: the jobs were re-sent or aborted per the
    // manager's policy, and an operator should know this vendor answered inconsistently.
    log.warn({ unconfirmedJobs }, `import ${row.id}: the vendor's results did not confirm the outcome of ${unconfirmedJobs} job(s)`);
  }
  log.info({ status: result.status, jobs: jobs.length }, 'import finished');
}

async function withDeadline<T>(
  ctx: RouterContext,
  timeoutMs: number,
  call: (deadline: number, signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  const handle = callSignal(ctx.hardStop, deadline);
  try {
    return await call(deadline, handle.signal);
  } finally {
    handle.dispose();
  }
}
