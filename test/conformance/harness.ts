/**
 * Drives a manager the way the router does, without a database: transform each event (a
 * PermanentError aborts only that job), stage the rows in a real staging file, hand the manager a
 * real `UploadBatch` and `CallContext`, and poll imports to the end. Manager tests use it directly
 * for their own cases; the conformance suite is built on it.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import type {
  CallContext,
  ImportHandle,
  ImportedJob,
  JobOutcome,
  JsonObject,
  Manager,
  OpenImport,
  UploadBatch,
} from '../../src/manager/contract.ts';
import { PermanentError, RetryableError } from '../../src/manager/errors.ts';
import { stagedBatch, stagingPath, writeStagingFile, type StagedEntry } from '../../src/router/staging.ts';

export const silentLog = pino({ level: 'silent' });

let nextId = 1;
/** Numeric strings, like the router's bigint ids, unique within the test process. */
export const newId = (): string => String(nextId++);

/** A temp directory for staging files; `dispose` removes it. */
export async function tempDir(prefix = 'br-conformance-'): Promise<{ path: string; dispose(): Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return { path, dispose: () => rm(path, { recursive: true, force: true }) };
}

export interface BuiltBatch<Row> {
  readonly batch: UploadBatch<Row>;
  /** Jobs whose transform threw PermanentError: the router aborts them before staging. */
  readonly transformAborted: JobOutcome[];
  /** Every job id, aborted ones included, in event order. */
  readonly allJobIds: string[];
}

/** Transforms and stages `events` into an upload batch, as the router's upload step does. */
export async function buildBatch<Config, Row>(
  manager: Manager<Config, Row>,
  config: Config,
  events: readonly JsonObject[],
  options: { stagingDir: string; destinationId?: string; uploadId?: string; uploadAttempt?: number; createdAt?: number },
): Promise<BuiltBatch<Row>> {
  const staged: StagedEntry[] = [];
  const transformAborted: JobOutcome[] = [];
  const allJobIds: string[] = [];
  for (const event of events) {
    const jobId = newId();
    allJobIds.push(jobId);
    try {
      // A manager without a transform gets the event's JSON text as its row, as from the store.
      staged.push(manager.passesEventsThrough
        ? { jobId, json: JSON.stringify(event) }
        : { jobId, row: manager.transform({ jobId, event, attempt: 1 }, config) });
    } catch (error) {
      // Only PermanentError is a per-job verdict; anything else is a manager bug and must surface.
      if (!(error instanceof PermanentError)) throw error;
      transformAborted.push({ jobId, kind: 'aborted', reason: error.message });
    }
  }
  const destinationId = options.destinationId ?? 'conformance-dest';
  const uploadId = options.uploadId ?? newId();
  const file = await writeStagingFile(stagingPath(options.stagingDir, destinationId, uploadId), staged);
  const batch = stagedBatch<Row>(file, {
    uploadId,
    destinationId,
    uploadAttempt: options.uploadAttempt ?? 1,
    createdAt: options.createdAt ?? Date.now(),
  });
  return { batch, transformAborted, allJobIds };
}

/** A CallContext like the router's; `controller.abort()` plays shutdown. */
export function callContext<Config, Session = unknown>(
  config: Config,
  options: { destinationId?: string; session?: Session; timeoutMs?: number; signal?: AbortSignal } = {},
): { ctx: CallContext<Config, Session>; controller: AbortController } {
  const controller = new AbortController();
  const timeoutMs = options.timeoutMs ?? 30_000;
  const signals = [controller.signal, AbortSignal.timeout(timeoutMs), ...(options.signal ? [options.signal] : [])];
  const ctx: CallContext<Config, Session> = {
    config,
    destinationId: options.destinationId ?? 'conformance-dest',
    signal: AbortSignal.any(signals),
    deadline: Date.now() + timeoutMs,
    log: silentLog,
    // A test that passes no session gets none, as a manager without createSession does.
    session: options.session as Session,
  };
  return { ctx, controller };
}

/** The manager's session for a destination, as the router creates it once per process. */
export function openSession<Config, Row, Session>(manager: Manager<Config, Row, Session>, config: Config, destinationId = 'conformance-dest'): Session {
  return manager.createSession?.(config, destinationId, silentLog) as Session;
}

export async function closeSession<Config, Row, Session>(manager: Manager<Config, Row, Session>, session: Session | undefined): Promise<void> {
  if (session !== undefined) await manager.closeSession?.(session);
}

/**
 * Polls every import of an upload to the end and returns the final outcome of every job, as the
 * router would record it. `completeImports` is called once before the first poll. Throws when an
 * import is still running at `deadlineMs`, or when the manager reports a job twice.
 */
export async function settleUpload<Config, Row>(
  manager: Manager<Config, Row>,
  imports: readonly ImportHandle[],
  ctx: CallContext<Config>,
  options: { uploadId: string; completeImports?: () => Promise<void>; deadlineMs?: number },
): Promise<JobOutcome[]> {
  if (imports.length === 0) return [];
  await options.completeImports?.();
  const deadline = Date.now() + (options.deadlineMs ?? 20_000);
  const outcomes: JobOutcome[] = [];
  for (const [index, created] of imports.entries()) {
    const open: OpenImport = { importId: `import-${index}`, uploadId: options.uploadId, handle: created.handle, startedAt: Date.now(), pollCount: 0 };
    const jobs: ImportedJob[] = created.jobs.map((job) => ({ jobId: job.jobId, correlationKey: job.correlationKey ?? null }));
    for (let pollCount = 0; ; pollCount += 1) {
      const result = await manager.poll({ ...open, pollCount }, ctx);
      if (result.status === 'failed') {
        const kind = result.retryable ? 'retry' : 'aborted';
        outcomes.push(...jobs.map((job) => ({ jobId: job.jobId, kind, reason: result.reason }) as JobOutcome));
        break;
      }
      if (result.status === 'completed') {
        const stats = result.hasRecordFailures || result.hasWarnings ? await readStats(manager, open, jobs, ctx, deadline) : [];
        const mentioned = new Set(stats.map((outcome) => outcome.jobId));
        // Jobs getUploadStats leaves out count as succeeded (contract).
        outcomes.push(...stats, ...jobs.filter((job) => !mentioned.has(job.jobId)).map((job) => succeeded(job.jobId)));
        break;
      }
      if (Date.now() > deadline) throw new Error(`import ${JSON.stringify(created.handle)} still in progress after ${options.deadlineMs ?? 20_000} ms`);
      await new Promise((resolve) => setTimeout(resolve, Math.min(result.retryAfterMs ?? 25, 250)));
    }
  }
  return outcomes;
}

const succeeded = (jobId: string): JobOutcome => ({ jobId, kind: 'succeeded' });

/**
 * getUploadStats as the router calls it: a RetryableError (result files not written yet, a total
 * that does not add up yet) means "ask again", until the deadline.
 */
async function readStats<Config, Row>(
  manager: Manager<Config, Row>,
  open: OpenImport,
  jobs: readonly ImportedJob[],
  ctx: CallContext<Config>,
  deadline: number,
): Promise<readonly JobOutcome[]> {
  for (;;) {
    try {
      return await manager.getUploadStats(open, jobs, ctx);
    } catch (error) {
      if (!(error instanceof RetryableError) || Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, Math.min(error.retryAfterMs ?? 25, 250)));
    }
  }
}

/** Freezes a value and everything inside it, so any mutation by the manager throws. */
export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const inner of Object.values(value)) deepFreeze(inner);
  }
  return value;
}
