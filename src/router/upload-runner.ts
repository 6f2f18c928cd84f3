/**
 * One send of one upload: transform each claimed job (a bad event aborts only itself), stage
 * the rows (in memory, or in a file when big), call the manager, then record the outcome, the
 * import handles and every job transition in ONE transaction that first re-checks this worker
 * still owns the upload.
 */
import type { Logger } from 'pino';
import type { JobOutcome, JsonObject, UploadResult } from '../manager/contract.ts';
import { classify, failureLogFields, toError } from '../manager/errors.ts';
import { ERROR_CODES } from '../manager/error-codes.ts';
import { markAborted, markImporting, scheduleRetries, snooze } from '../store/jobs.transitions.ts';
import { insertImports } from '../store/imports.repository.ts';
import { endUploadAttempt, finishSettledUploads } from '../store/uploads.repository.ts';
import { recordUploadSucceeded } from '../store/upload-success.ts';
import { backoffRangeMs } from '../store/retry-policy.ts';
import { redactText } from '../logger.ts';
import { retryRolledBack } from '../db/rolled-back-retry.ts';
import { removeStagingFile, stageRows, stagedBatch, stagingPath, type StagedEntry } from './staging.ts';
import { applyOutcomes, reconcileOutcomes } from './outcomes.ts';
import { callSignal } from './call-signal.ts';
import type { ClaimedJob } from '../store/jobs.repository.ts';
import type { RecordedUpload, UploadToRecord } from '../store/claim-function.ts';
import type { ClaimResult } from './claim.ts';
import type { ActiveDestination, RouterContext } from './types.ts';

export interface ClaimedUpload {
  readonly uploadId: string;
  readonly attempt: number;
  readonly createdAt: Date;
  readonly jobs: readonly ClaimedJob[];
}

/**
 * Records an upload all succeeded and claims the destination's next upload in one round trip
 * (claim.ts, recordAndClaimNext). Returns undefined, without recording, when the caller takes no
 * new upload now (it is stopping): the upload is then recorded alone.
 */
export type RecordAndClaimNext = (upload: UploadToRecord) => Promise<{ recorded: RecordedUpload; next: ClaimResult }> | undefined;

/**
 * Sends one upload and records its outcome. With `claimNext`, an upload that ends all succeeded
 * is recorded by it, and the upload it claimed (or why none) is returned for the caller to run.
 */
export async function runUpload(
  ctx: RouterContext,
  destination: ActiveDestination,
  claim: ClaimedUpload,
  leaseLost: AbortSignal,
  claimNext?: RecordAndClaimNext,
): Promise<ClaimResult | undefined> {
  const log = ctx.log.child({ destinationId: destination.id, uploadId: claim.uploadId, attempt: claim.attempt });
  const guard = { state: 'executing', uploadId: claim.uploadId, destinationId: destination.id } as const;
  const { rejected, entries } = transformJobs(destination, claim.jobs);
  const rejectedIds = new Set(rejected.map((r) => r.jobId));
  const onRolledBack = (err: Error, tryNumber: number) => log.warn({ err, try: tryNumber }, 'recording the upload was rolled back by the server (deadlock or serialization); recording it again');
  const file = await stageRows(stagingPath(ctx.stagingDir, destination.id, claim.uploadId), entries, ctx.stagingMemoryBytes);
  try {
    let result: UploadResult | undefined;
    let failure: ReturnType<typeof classify> | undefined;
    if (file.jobIds.length > 0) {
      const deadline = Date.now() + destination.tuning.uploadTimeoutMs;
      const signal = callSignal(ctx.hardStop, leaseLost, deadline);
      try {
        result = await destination.manager.upload(stagedBatch(file, {
          uploadId: claim.uploadId,
          destinationId: destination.id,
          uploadAttempt: claim.attempt,
          createdAt: claim.createdAt.getTime(),
        }), {
          config: destination.config,
          destinationId: destination.id,
          signal: signal.signal,
          deadline,
          log,
          session: destination.session,
        });
      } catch (error) {
        failure = classify(error);
        log.warn(failureLogFields(error, failure), 'upload failed');
      } finally {
        signal.dispose();
      }
    }
    const reconciled = failure ? undefined : reconcileOutcomes(file.jobIds, result?.outcomes ?? [], result?.imports ?? [], log);
    if (reconciled && rejected.length === 0 && allPlainSuccesses(reconciled)) {
      const upload = { uploadId: claim.uploadId, attempt: claim.attempt, jobCount: claim.jobs.length, bytes: file.bytes };
      const { recorded, succeeded, next } = await recordAllSucceeded(ctx, destination.id, upload, claimNext, log, onRolledBack);
      if (recorded) log.info({ jobs: claim.jobs.length, rejected: 0, imports: 0, succeeded }, 'upload recorded');
      else log.warn(LEASE_LOST);
      return next;
    }
    const recorded = await retryRolledBack(() => ctx.db.transaction().execute(async (trx) => {
      const secrets = destination.secrets;
      if (failure) {
        const sent = { ...claim, jobs: claim.jobs.filter((j) => !rejectedIds.has(j.id)) };
        if (!(await recordWholeFailure(trx, destination, sent, ctx.workerId, failure, file.bytes, log))) return false;
        await markAborted(trx, guard, rejected);
        await finishSettledUploads(trx, [claim.uploadId], destination.id);
        return true;
      }
      if (!reconciled) throw new Error('unreachable: no failure and no outcomes');
      const state = reconciled.imports.length > 0 ? 'importing' : 'finished';
      const size = { jobCount: claim.jobs.length, bytes: file.bytes };
      if (!(await endUploadAttempt(trx, { uploadId: claim.uploadId, destinationId: destination.id, owner: ctx.workerId, attempt: claim.attempt, state, size }))) {
        return false;
      }
      await markAborted(trx, guard, rejected);
      const importIds = await insertImports(trx, {
        uploadId: claim.uploadId,
        destinationId: destination.id,
        handles: reconciled.imports.map((i) => i.handle),
        firstPollInMs: destination.tuning.pollIntervalMs,
      });
      await markImporting(
        trx,
        claim.uploadId,
        reconciled.imports.flatMap((imp, index) =>
          imp.jobs.map((job) => ({ jobId: job.jobId, importId: importIds[index]!, correlationKey: job.correlationKey })),
        ),
        destination.id,
      );
      // Rejected jobs were aborted above; every other job of the upload has exactly one verdict,
      // in an import or among the outcomes, so with no imports the outcomes cover the guard.
      const counts = await applyOutcomes(trx, guard, reconciled.outcomes, destination.tuning, secrets, {
        coversGuard: reconciled.imports.length === 0,
      });
      log.info({ jobs: claim.jobs.length, rejected: rejected.length, imports: importIds.length, ...counts }, 'upload recorded');
      return true;
    }), onRolledBack);
    if (!recorded) log.warn(LEASE_LOST);
    return undefined;
  } finally {
    await removeStagingFile(file);
  }
}

/**
 * The all-succeeded recording: with the next claim when the caller takes another upload;
 * should that call fail (other than by a rollback it retries), the recording alone, so that a
 * claim's trouble never costs an upload its outcome.
 */
async function recordAllSucceeded(
  ctx: RouterContext,
  destinationId: string,
  upload: UploadToRecord,
  claimNext: RecordAndClaimNext | undefined,
  log: Logger,
  onRolledBack: (err: Error, tryNumber: number) => void,
): Promise<RecordedUpload & { next: ClaimResult | undefined }> {
  if (claimNext) {
    try {
      const answer = await retryRolledBack(async () => (await claimNext(upload)) ?? null, onRolledBack);
      if (answer) return { ...answer.recorded, next: answer.next };
    } catch (error) {
      log.warn({ err: toError(error) }, 'recording the upload together with the next claim failed; recording it alone');
    }
  }
  const recorded = await retryRolledBack(
    () => recordUploadSucceeded(ctx.db, { ...upload, destinationId, owner: ctx.workerId }),
    onRolledBack,
  );
  return { ...recorded, next: undefined };
}

const LEASE_LOST = 'lost the lease on this upload before recording it; another worker owns it now, nothing recorded';

/** The vendor took every job, none with a warning, nothing to poll: recordUploadSucceeded's one statement. */
function allPlainSuccesses(reconciled: { outcomes: readonly JobOutcome[]; imports: readonly unknown[] }): boolean {
  return reconciled.imports.length === 0 && reconciled.outcomes.every((o) => o.kind === 'succeeded' && !o.warning);
}

function transformJobs(
  destination: ActiveDestination,
  jobs: readonly ClaimedJob[],
): { rejected: Array<{ jobId: string; reason: string; code: typeof ERROR_CODES.badEvent }>; entries: StagedEntry[] } {
  const rejected: Array<{ jobId: string; reason: string; code: typeof ERROR_CODES.badEvent }> = [];
  const code = ERROR_CODES.badEvent;
  const entries: StagedEntry[] = [];
  const { manager } = destination;
  const maxRowBytes = manager.limits.maxRowBytes;
  const tooBig = (json: string) =>
    maxRowBytes !== undefined && json.length > maxRowBytes / 3 && Buffer.byteLength(json) > maxRowBytes;
  for (const job of jobs) {
    const text = job.payload;
    if (text === null) {
      rejected.push({ jobId: job.id, reason: 'event payload is missing from the database', code });
      continue;
    }
    try {
      let entry: StagedEntry;
      if (manager.passesEventsThrough) {
        entry = { jobId: job.id, json: stageableText(text) };
      } else {
        const event = parseStoredEvent(text);
        const row = manager.transform({ jobId: job.id, event, attempt: job.attempts }, destination.config);
        entry = maxRowBytes === undefined ? { jobId: job.id, row } : { jobId: job.id, json: JSON.stringify(row) };
      }
      if (entry.json !== undefined && tooBig(entry.json)) {
        rejected.push({ jobId: job.id, reason: `event is larger than ${maxRowBytes} bytes after transformation, the most ${manager.name} accepts for one record`, code });
        continue;
      }
      entries.push(entry);
    } catch (error) {
      rejected.push({ jobId: job.id, reason: `invalid event: ${redactText(toError(error).message, destination.secrets)}`, code });
    }
  }
  return { rejected, entries };
}

/**
 * A stored event as one staging line. Ingest stores compact JSON objects, which pass untouched;
 * text that spans lines (a row written by hand in SQL) is re-serialised, and text that is not a
 * JSON object fails its job alone instead of corrupting the batch around it.
 */
function stageableText(text: string): string {
  if (text.charCodeAt(0) === 0x7b /* { */ && text.charCodeAt(text.length - 1) === 0x7d /* } */ && !/[\n\r]/.test(text)) {
    return text;
  }
  return JSON.stringify(parseStoredEvent(text));
}

function parseStoredEvent(text: string): JsonObject {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new Error('the stored event is not valid JSON (it was not written through the API or "batch-router enqueue")');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Error('the stored event is not a JSON object (it was not written through the API or "batch-router enqueue")');
  }
  return value as JsonObject;
}

/** The whole send failed: retry the upload as a unit, snooze it, or abort its jobs. */
async function recordWholeFailure(
  trx: RouterContext['db'],
  destination: ActiveDestination,
  claim: ClaimedUpload,
  owner: string,
  failure: ReturnType<typeof classify>,
  bytes: number,
  log: Logger,
): Promise<boolean> {
  const guard = { state: 'executing', uploadId: claim.uploadId, destinationId: destination.id } as const;
  const message = redactText(failure.message, destination.secrets);
  const codes = { code: failure.code, vendorCode: failure.vendorCode };
  const jobIds = claim.jobs.map((j) => j.id);
  if (failure.action === 'abort' || failure.action === 'config') {
    const ok = await endUploadAttempt(trx, {
      uploadId: claim.uploadId, destinationId: destination.id, owner, attempt: claim.attempt, state: 'finished', error: message, errorCode: failure.code,
    });
    if (ok) await markAborted(trx, guard, jobIds.map((jobId) => ({ jobId, reason: message, ...codes })));
    return ok;
  }
  const range = backoffRangeMs(destination.tuning, claim.attempt);
  const delayMs =
    failure.action === 'snooze'
      ? failure.retryAfterMs ?? range.max
      : Math.max(failure.retryAfterMs ?? 0, range.min + Math.random() * (range.max - range.min));
  const ok = await endUploadAttempt(trx, {
    uploadId: claim.uploadId, destinationId: destination.id, owner, attempt: claim.attempt, state: 'retry_wait', error: message, errorCode: failure.code, retryAfterMs: delayMs,
    size: { jobCount: claim.jobs.length, bytes },
  });
  if (!ok) return false;
  if (failure.action === 'snooze') {
    await snooze(trx, guard, jobIds.map((jobId) => ({ jobId, reason: message, retryAfterMs: delayMs, ...codes })), true);
  } else {
    const { aborted } = await scheduleRetries(trx, guard, jobIds.map((jobId) => ({ jobId, error: message, ...codes })), destination.tuning, true);
    if (aborted > 0) log.warn({ aborted }, 'jobs gave up: attempt limit and retry window both exhausted');
  }
  await finishSettledUploads(trx, [claim.uploadId], destination.id);
  return true;
}

export type { JobOutcome };
