/**
 * Claiming the next upload of a destination. One short transaction per claim, serialized per
 * destination across processes by an advisory lock so the concurrency limits (uploads in flight,
 * open vendor imports) are checked and taken atomically, and new jobs are taken by moving the
 * destination's cursor (jobs.claim.ts). Uploads waiting for a whole-upload retry go before new
 * batches. The usual claim is one statement, a database function (store/claim-function.ts), which
 * can also record the upload that just ended.
 */
import { lockDestinationForClaim } from '../store/destination-lock.ts';
import {
  claimJobsOfUpload,
  claimNewUpload,
  ensureClaimCursor,
  readClaimGate,
  type ClaimedJob,
} from '../store/jobs.repository.ts';
import { claimRetryUpload, endUploadAttempt } from '../store/uploads.repository.ts';
import {
  claimInOneStatement,
  type ClaimArguments,
  type OneStatementClaim,
  type RecordedUpload,
  type UploadToRecord,
} from '../store/claim-function.ts';
import type { ClaimGate } from '../store/claim-gate.ts';
import type { ActiveDestination, RouterContext } from './types.ts';

export type ClaimResult =
  | {
      readonly kind: 'claimed';
      readonly uploadId: string;
      readonly attempt: number;
      /** When the upload was first created; the same on every retry. */
      readonly createdAt: Date;
      readonly jobs: ClaimedJob[];
    }
  /** Limits reached: wait until an upload or import finishes. */
  | { readonly kind: 'at-capacity' }
  /**
   * Nothing to send yet; `wakeInMs` says when something becomes due (if known): a partial batch,
   * a job's retry or a whole upload's retry.
   */
  | { readonly kind: 'idle'; readonly wakeInMs: number | null };

/**
 * Claims the destination's next upload if one is due and a slot is free. The usual case is one
 * statement (src/store/claim-function.ts); a due whole-upload retry goes step by step.
 */
export async function claimNextUpload(ctx: RouterContext, destination: ActiveDestination): Promise<ClaimResult> {
  return answerOf(ctx, destination, await claimInOneStatement(ctx.db, claimArguments(ctx, destination)));
}

/**
 * Records `upload` as all succeeded (recordUploadSucceeded's guard and effect) and claims the
 * destination's next upload in the same round trip: the slot the upload frees is filled at once.
 * The recording commits whatever the claim finds; when the claim lock is busy the claim is left
 * to the worker's loop (`idle` with no delay).
 */
export async function recordAndClaimNext(
  ctx: RouterContext,
  destination: ActiveDestination,
  upload: UploadToRecord,
): Promise<{ recorded: RecordedUpload; next: ClaimResult }> {
  const answer = await claimInOneStatement(ctx.db, claimArguments(ctx, destination), upload);
  if (!answer.recorded) throw new Error('unreachable: the claim function did not report the recording');
  return { recorded: answer.recorded, next: await answerOf(ctx, destination, answer) };
}

function claimArguments(ctx: RouterContext, destination: ActiveDestination): ClaimArguments {
  const { tuning, manager } = destination;
  return {
    destinationId: destination.id,
    manager: manager.name,
    lease: { owner: ctx.workerId, ms: ctx.leaseMs },
    limit: tuning.maxEventsPerUpload,
    maxBytes: tuning.maxBytesPerUpload,
    sendAfterMs: tuning.uploadIntervalMs,
    uploadConcurrency: tuning.uploadConcurrency,
    maxImports: manager.limits.maxConcurrentImports,
  };
}

async function answerOf(ctx: RouterContext, destination: ActiveDestination, answer: OneStatementClaim): Promise<ClaimResult> {
  if (answer.kind === 'claimed') return { kind: 'claimed', uploadId: answer.uploadId, attempt: 1, createdAt: answer.createdAt, jobs: answer.jobs };
  // Another process took the jobs between the gate and the claim (no upload row was made), or
  // held the claim lock too long for a recording to wait: claim again at once.
  if (answer.kind === 'nothing-taken' || answer.kind === 'lock-busy') return { kind: 'idle', wakeInMs: 0 };
  const verdict = gateVerdict(answer.gate, destination);
  // 'claim' would mean the function's verdict and this one disagree: the step-by-step path decides then.
  return verdict.kind === 'retry' || verdict.kind === 'claim' ? claimStepByStep(ctx, destination) : verdict;
}

/** What the gate says: a limit reached, a due whole-upload retry first, nothing ready yet, or claim. */
type GateVerdict = Exclude<ClaimResult, { kind: 'claimed' }> | { readonly kind: 'retry' } | { readonly kind: 'claim' };

/** The claim function's body decides "claim" the same way: keep the two in step. */
export function gateVerdict(gate: ClaimGate, destination: ActiveDestination): GateVerdict {
  const { tuning, manager } = destination;
  if (gate.uploading >= tuning.uploadConcurrency) return { kind: 'at-capacity' };
  const maxImports = manager.limits.maxConcurrentImports;
  if (maxImports !== undefined && gate.uploading + gate.openImports >= maxImports) return { kind: 'at-capacity' };
  if (gate.retryDue) return { kind: 'retry' };
  const { backlog } = gate;
  // ready === null: not counted, because the oldest job has waited long enough to go out anyway.
  if (backlog.ready === 0) return { kind: 'idle', wakeInMs: earliest(backlog.nextReadyInMs, gate.nextRetryInMs) };
  const waitedMs = backlog.oldestWaitMs;
  const full = backlog.ready !== null && backlog.ready >= tuning.maxEventsPerUpload;
  if (backlog.ready !== null && !full && waitedMs < tuning.uploadIntervalMs) {
    return { kind: 'idle', wakeInMs: earliest(tuning.uploadIntervalMs - waitedMs, gate.nextRetryInMs) };
  }
  return { kind: 'claim' };
}

/**
 * The claim as a transaction of several statements: the lock, the gate, a due whole-upload retry
 * (or, if it vanished, a new batch), COMMIT. Taken when the gate says a retry is due.
 */
export async function claimStepByStep(ctx: RouterContext, destination: ActiveDestination): Promise<ClaimResult> {
  const { tuning, manager } = destination;
  const lease = { owner: ctx.workerId, ms: ctx.leaseMs };
  return ctx.db.transaction().execute(async (trx) => {
    // Round trips: the lock, the gate (limits, due retries and backlog in one read), the claim.
    await lockDestinationForClaim(trx, destination.id);
    const gate = await readClaimGate(trx, destination.id, { cap: tuning.maxEventsPerUpload, sendAfterMs: tuning.uploadIntervalMs });
    let verdict = gateVerdict(gate, destination);
    if (verdict.kind === 'retry') {
      const retry = await claimRetryUpload(trx, destination.id, lease);
      if (retry) {
        const jobs = await claimJobsOfUpload(trx, retry.id, destination.id);
        if (jobs.length > 0) return { kind: 'claimed', uploadId: retry.id, attempt: retry.attempt, createdAt: retry.created_at, jobs } as const;
        // Every job left the upload meanwhile (cancelled): nothing to resend.
        await endUploadAttempt(trx, { uploadId: retry.id, destinationId: destination.id, owner: lease.owner, attempt: retry.attempt, state: 'finished' });
      }
      verdict = gateVerdict({ ...gate, retryDue: false }, destination);
    }
    if (verdict.kind !== 'claim') return verdict as Exclude<GateVerdict, { kind: 'retry' | 'claim' }>;

    if (!gate.hasCursor) await ensureClaimCursor(trx, destination.id);
    const claimed = await claimNewUpload(trx, {
      destinationId: destination.id,
      manager: manager.name,
      lease,
      limit: tuning.maxEventsPerUpload,
      maxBytes: tuning.maxBytesPerUpload,
    });
    // Nothing taken (another process took the jobs between the gate and the claim): no upload row was made.
    if (!claimed) return { kind: 'idle', wakeInMs: 0 } as const;
    return { kind: 'claimed', uploadId: claimed.uploadId, attempt: 1, createdAt: claimed.createdAt, jobs: claimed.jobs } as const;
  });
}

/** The sooner of two wake-up delays, either of which may be unknown (null). */
function earliest(a: number | null, b: number | null): number | null {
  if (a === null) return b;
  return b === null ? a : Math.min(a, b);
}
