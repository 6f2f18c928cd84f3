/**
 * Following accepted operations to their end. `poll` aggregates the operations of one import into
 * one status (protocol.ts); `getUploadStats` turns each job's operation (or its item of a batch
 * operation) into an outcome, found again by the correlation key persisted with the job.
 *
 * Finished operations never change, so the session remembers their verdicts: a poll re-reads only
 * the operations still running. After a restart the memory is empty and they are read again.
 */
import type { CallContext, ImportedJob, JobOutcome, OpenImport, PollResult } from '../../src/manager/contract.ts';
import { RetryableError } from '../../src/manager/errors.ts';
import { readOperation, type OperationsHandle } from './client.ts';
import type { AsyncHttpConfig } from './config.ts';
import { finalOutcome, meanProgress, outcomeOf, outcomesOfResults, overall, resultItems, verdictOf, type Verdict } from './protocol.ts';

/** Status checks in flight at once for one import: enough to be quick, few enough to be polite. */
const CONCURRENT_READS = 8;
/** A bound on remembered verdicts; past it the memory starts over (it is only a shortcut). */
const MAX_REMEMBERED = 100_000;

export interface AsyncHttpSession {
  /** Operation id → its final verdict, or for a batch operation the verdicts of its items. */
  readonly finished: Map<string, Verdict | { items: unknown[] | undefined }>;
}

/** The context of every call here: the router passes the session createAsyncHttpSession made. */
export type AsyncHttpContext = CallContext<AsyncHttpConfig, AsyncHttpSession>;

export function createAsyncHttpSession(): AsyncHttpSession {
  return { finished: new Map() };
}

export async function pollOperations(open: OpenImport, ctx: AsyncHttpContext): Promise<PollResult> {
  const handle = parseHandle(open.handle);
  if (!handle) return { status: 'failed', retryable: false, reason: 'import handle names no operation; it was not created by async-http' };
  const interval = ctx.config.pollIntervalMs;
  // The router's poll cadence is a floor; pollIntervalMs is this destination's cadence (README).
  const waited = Date.now() - open.startedAt;
  if (waited < interval) return { status: 'in_progress', progress: 0, retryAfterMs: interval - waited };
  try {
    return handle.mode === 'items' ? await pollItems(handle.operationIds, ctx) : await pollBatch(handle, ctx);
  } catch (error) {
    // A failed status check is not a failed operation: check again after pollIntervalMs at the earliest.
    if (error instanceof RetryableError && error.retryAfterMs === undefined) throw new RetryableError(error.message, { cause: error, retryAfterMs: interval });
    throw error;
  }
}

async function pollItems(ids: readonly string[], ctx: AsyncHttpContext): Promise<PollResult> {
  const verdicts = await mapLimit(ids, CONCURRENT_READS, (id) => itemVerdict(id, ctx));
  const status = overall(verdicts);
  if (status === 'pending') return { status: 'in_progress', progress: meanProgress(verdicts), retryAfterMs: ctx.config.pollIntervalMs };
  if (status === 'completed') forget(ctx, ids);
  // failed and partial: each job gets its own operation's reason from getUploadStats.
  return { status: 'completed', hasRecordFailures: status !== 'completed' };
}

async function pollBatch(handle: { operationId: string; count: number }, ctx: AsyncHttpContext): Promise<PollResult> {
  const id = handle.operationId;
  const state = await readOperation(id, ctx);
  if (state === undefined) return { status: 'failed', retryable: false, reason: `the service has no operation ${id} (404)` };
  const verdict = verdictOf(state, `operation ${id}`);
  if (verdict.kind === 'pending') return { status: 'in_progress', progress: meanProgress([verdict]), retryAfterMs: ctx.config.pollIntervalMs };
  if (verdict.kind === 'failed') return { status: 'failed', retryable: false, reason: verdict.reason };
  const items = resultItems((state as { result?: unknown }).result);
  if (items === undefined) return { status: 'completed' }; // no per-item results: every item completed
  // Exactly one result per operation, all completed: anything else goes to getUploadStats, which
  // confirms nothing from a list of the wrong length.
  const allDone = items.length === handle.count && items.every((item) => verdictOf(item, '').kind === 'completed');
  if (allDone) return { status: 'completed' };
  remember(ctx, id, { items }); // read once more by getUploadStats, which forgets it
  return { status: 'completed', hasRecordFailures: true };
}

export async function operationOutcomes(open: OpenImport, jobs: readonly ImportedJob[], ctx: AsyncHttpContext): Promise<JobOutcome[]> {
  const handle = parseHandle(open.handle);
  if (!handle) throw new RetryableError('import handle names no operation; it was not created by async-http');
  if (handle.mode === 'items') {
    const outcomes = await mapLimit(jobs, CONCURRENT_READS, async (job) =>
      job.correlationKey === null
        ? ({ jobId: job.jobId, kind: 'retry', reason: 'no operation id was persisted for this job' } as const)
        : outcomeOf(job.jobId, await itemVerdict(job.correlationKey, ctx)),
    );
    forget(ctx, jobs.map((j) => j.correlationKey ?? ''));
    return outcomes;
  }
  let entry = ctx.session.finished.get(handle.operationId);
  if (!entry || !('items' in entry)) {
    const state = await readOperation(handle.operationId, ctx);
    entry = { items: resultItems((state as { result?: unknown } | undefined)?.result) };
  }
  const items = entry.items ?? [];
  forget(ctx, [handle.operationId]);
  if (items.length !== handle.count) {
    ctx.log.warn({ operationId: handle.operationId, results: items.length, operations: handle.count }, `import ${open.importId}: result count does not match the batch`);
    return outcomesOfResults(jobs.map((j) => j.jobId), items, `operation ${handle.operationId}`, (i) => `item ${i} of operation ${handle.operationId}`);
  }
  return jobs.map((job) => {
    const index = /^\d+$/.test(job.correlationKey ?? '') ? Number(job.correlationKey) : -1;
    return finalOutcome(job.jobId, items[index], `item ${job.correlationKey ?? '(none)'} of operation ${handle.operationId}`);
  });
}

/** One operation's verdict, from memory when it finished earlier. A 404 is a failure, not a hang. */
async function itemVerdict(id: string, ctx: AsyncHttpContext): Promise<Verdict> {
  const known = ctx.session.finished.get(id);
  if (known && !('items' in known)) return known;
  const state = await readOperation(id, ctx);
  const verdict = state === undefined ? { kind: 'failed' as const, reason: `operation ${id}: the service has no such operation (404)` } : verdictOf(state, `operation ${id}`);
  if (verdict.kind !== 'pending') remember(ctx, id, verdict);
  return verdict;
}

function parseHandle(handle: Record<string, unknown>): OperationsHandle | undefined {
  if (handle.mode === 'items' && Array.isArray(handle.operationIds) && handle.operationIds.length > 0 && handle.operationIds.every((id) => typeof id === 'string')) {
    return { mode: 'items', operationIds: handle.operationIds as string[] };
  }
  if (handle.mode === 'batch' && typeof handle.operationId === 'string' && typeof handle.count === 'number') {
    return { mode: 'batch', operationId: handle.operationId, count: handle.count };
  }
  return undefined;
}

function remember(ctx: AsyncHttpContext, id: string, value: Verdict | { items: unknown[] | undefined }): void {
  const finished = ctx.session.finished;
  if (finished.size >= MAX_REMEMBERED) finished.clear();
  finished.set(id, value);
}

function forget(ctx: AsyncHttpContext, ids: readonly string[]): void {
  for (const id of ids) ctx.session.finished.delete(id);
}

/** `fn` over `items` with at most `limit` calls in flight; results in input order. */
async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (next < items.length && !failed) {
      const index = next++;
      try {
        results[index] = await fn(items[index]!);
      } catch (error) {
        failed = true; // the others stop taking work: the call fails as a whole anyway
        throw error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
