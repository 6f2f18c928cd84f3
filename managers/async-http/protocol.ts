/**
 * The async-operations protocol's documents, read defensively: the submit answers (200 with
 * per-item results, 202 with operation ids), an operation's status, and the aggregation of item
 * statuses into one batch status the way Segment's async-action prototype does it (seeds 000/001):
 * all completed → completed; all failed → failed; any pending → pending; otherwise partial.
 * Anything the protocol does not define is a failure with a reason, never a hang.
 */
import type { JobOutcome } from '../../src/manager/contract.ts';
import { ERROR_CODES } from '../../src/manager/error-codes.ts';

/** What one operation (or one item of a batch result) amounts to. */
export type Verdict =
  | { readonly kind: 'pending'; readonly progress: number | undefined }
  | { readonly kind: 'completed' }
  | { readonly kind: 'failed'; readonly reason: string; readonly codes?: { code: typeof ERROR_CODES.recordRejected; vendorCode: string } };

export type Overall = 'completed' | 'failed' | 'partial' | 'pending';

type Doc = Record<string, unknown>;
const isDoc = (value: unknown): value is Doc => typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * Reads `{ status, progress?, error_code?, error_message? }`. `label` names the operation in
 * reasons ("operation op-17", "item 3 of operation op-9").
 */
export function verdictOf(state: unknown, label: string): Verdict {
  const status = isDoc(state) ? state.status : undefined;
  switch (status) {
    case 'pending':
    case 'processing': {
      const progress = isDoc(state) && typeof state.progress === 'number' && Number.isFinite(state.progress) ? state.progress : undefined;
      return { kind: 'pending', progress };
    }
    case 'completed':
      return { kind: 'completed' };
    case 'failed': {
      const doc = state as Doc;
      const code = typeof doc.error_code === 'string' && doc.error_code ? doc.error_code.slice(0, 100) : 'OPERATION_FAILED';
      const message = typeof doc.error_message === 'string' && doc.error_message ? `: ${doc.error_message}` : '';
      return { kind: 'failed', reason: `${label} failed: ${code}${message}`, codes: { code: ERROR_CODES.recordRejected, vendorCode: code } };
    }
    default: {
      const shown = typeof status === 'string' ? `unknown status "${status.slice(0, 50)}"` : 'no status';
      return { kind: 'failed', reason: `${label} reported ${shown} (UNKNOWN_STATUS); the protocol knows pending, processing, completed and failed` };
    }
  }
}

/** The seeds' rule: all completed → completed; all failed → failed; any pending → pending; else partial. */
export function overall(verdicts: readonly Verdict[]): Overall {
  const count = (kind: Verdict['kind']) => verdicts.filter((v) => v.kind === kind).length;
  if (count('completed') === verdicts.length) return 'completed';
  if (count('failed') === verdicts.length) return 'failed';
  if (count('pending') > 0) return 'pending';
  return 'partial';
}

/** Mean progress 0–100: finished items count as 100, pending ones as what they report (or 0). */
export function meanProgress(verdicts: readonly Verdict[]): number {
  if (verdicts.length === 0) return 0;
  const sum = verdicts.reduce((total, v) => total + (v.kind === 'pending' ? Math.max(0, Math.min(100, v.progress ?? 0)) : 100), 0);
  return Math.round(sum / verdicts.length);
}

/**
 * The per-item result array of a final answer (a 200 to submit, or a completed batch operation's
 * `result`): a bare array or `{ "results": [...] }`. Undefined when there is none.
 */
export function resultItems(doc: unknown): unknown[] | undefined {
  if (Array.isArray(doc)) return doc;
  if (isDoc(doc) && Array.isArray(doc.results)) return doc.results;
  return undefined;
}

/**
 * Outcome of job `jobId` from `item`, in a context where the answer must be final. A missing item
 * is retried (the service lost track of it, Segment treats it as a 500); a pending item without
 * an id to follow cannot be tracked and counts as a failure.
 */
export function finalOutcome(jobId: string, item: unknown, label: string): JobOutcome {
  if (item === undefined) {
    return { jobId, kind: 'retry', reason: `${label}: the service returned no result for it; outcome unconfirmed, re-sent`, code: ERROR_CODES.outcomeUnconfirmed };
  }
  const verdict = verdictOf(item, label);
  if (verdict.kind === 'completed') return { jobId, kind: 'succeeded' };
  if (verdict.kind === 'failed') return { jobId, kind: 'aborted', reason: verdict.reason, ...verdict.codes };
  return { jobId, kind: 'aborted', reason: `${label} is still pending in a final answer, with no operation id to follow` };
}

/**
 * Outcomes of the jobs of one request from a final per-item result list, matched by position.
 * Positions are the only link between a result and its operation, so a list of another length
 * than the request confirms nothing: every job is re-sent with code `outcome_unconfirmed` (the
 * protocol is at-least-once; services deduplicate by the operation's own id), never counted done.
 */
export function outcomesOfResults(
  jobIds: readonly string[],
  items: readonly unknown[],
  listLabel: string,
  itemLabel: (index: number) => string,
): JobOutcome[] {
  if (items.length !== jobIds.length) {
    const reason = `${listLabel} listed ${items.length} results for ${jobIds.length} operations; outcome unconfirmed, re-sent`;
    return jobIds.map((jobId) => ({ jobId, kind: 'retry', reason, code: ERROR_CODES.outcomeUnconfirmed }));
  }
  return jobIds.map((jobId, i) => finalOutcome(jobId, items[i], itemLabel(i)));
}

/** Outcome of a job whose operation's verdict is known (items mode). */
export function outcomeOf(jobId: string, verdict: Verdict): JobOutcome {
  if (verdict.kind === 'completed') return { jobId, kind: 'succeeded' };
  if (verdict.kind === 'failed') return { jobId, kind: 'aborted', reason: verdict.reason, ...verdict.codes };
  return { jobId, kind: 'retry', reason: 'operation still pending when its batch was settled' };
}

/**
 * The ids of a 202 answer: `operation_ids` (the protocol), or a lone `operation_id` (the seeds'
 * single-operation form). Undefined when neither is a list of non-empty strings.
 */
export function acceptedIds(doc: unknown): string[] | undefined {
  if (!isDoc(doc)) return undefined;
  const ids = Array.isArray(doc.operation_ids) ? doc.operation_ids : typeof doc.operation_id === 'string' ? [doc.operation_id] : undefined;
  if (!ids || ids.length === 0 || !ids.every((id): id is string => typeof id === 'string' && id !== '')) return undefined;
  return ids;
}
