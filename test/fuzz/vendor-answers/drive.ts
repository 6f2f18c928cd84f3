/**
 * Drives a manager through its public contract (Transform → Upload → Poll → GetUploadStats) the
 * way the router does, with a deadline on every call, and checks what the fuzz property demands
 * of each answer: a typed error with a stable code, or a valid outcome; never an untyped throw,
 * never a call that does not end, every job accounted for exactly once.
 */
import { expect } from 'vitest';
import type { CallContext, ImportedJob, JobOutcome, JsonObject, Manager, OpenImport } from '../../../src/manager/contract.ts';
import { ERROR_CODES } from '../../../src/manager/error-codes.ts';
import { RetryableError, RouterError } from '../../../src/manager/errors.ts';
import { buildBatch, callContext } from '../../conformance/harness.ts';

/** Per call: far more than any answer from a local server takes, even on a busy machine. */
const CALL_DEADLINE_MS = 20_000;
/** The call's own deadline (its context's signal), before ours. */
const CONTEXT_DEADLINE_MS = 15_000;
/** A call of a few local requests that takes this long was looping or waiting for nothing. */
const SLOW_CALL_MS = 12_000;
/** Polls per import before the flow stops following it (still in progress is a valid answer). */
const MAX_POLLS = 4;
/** getUploadStats calls while it asks to be called again (results not yet adding up). */
const MAX_STATS_CALLS = 4;

const CODES = new Set<string>(Object.values(ERROR_CODES));
const KINDS = new Set(['succeeded', 'retry', 'snooze', 'aborted']);

export interface FlowEnd {
  /** Final outcome per job id; a job still importing (poll never ended) has none. */
  readonly outcomes: Map<string, JobOutcome>;
  /** The typed error that ended the flow, with the call that threw it. */
  readonly error?: { readonly call: string; readonly error: RouterError };
  /** Job ids in event order, and their row index. */
  readonly jobIds: readonly string[];
}

/** Asserts `thrown` is a typed error with a stable code and a readable reason. */
export function expectTyped(thrown: unknown, call: string): asserts thrown is RouterError {
  const where = `${call} threw ${thrown instanceof Error ? `${thrown.name}: ${thrown.message.slice(0, 300)}\n${thrown.stack?.split('\n').slice(1, 6).join('\n')}` : String(thrown)}`;
  expect(thrown, where).toBeInstanceOf(RouterError);
  const error = thrown as RouterError;
  expect(CODES.has(error.code), `${where}: unknown code ${error.code}`).toBe(true);
  expect(error.message.trim().length, where).toBeGreaterThan(0);
  expect(error.vendorCode === undefined || typeof error.vendorCode === 'string', `${where}: vendorCode ${String(error.vendorCode)}`).toBe(true);
}

function expectOutcome(outcome: JobOutcome, call: string): void {
  const where = `${call} gave ${JSON.stringify(outcome).slice(0, 300)}`;
  expect(KINDS.has(outcome.kind), where).toBe(true);
  if (outcome.kind === 'succeeded') return;
  expect(typeof outcome.reason === 'string' && outcome.reason.trim().length > 0, where).toBe(true);
  if (outcome.code !== undefined) expect(CODES.has(outcome.code), where).toBe(true);
  if (outcome.vendorCode !== undefined) expect(typeof outcome.vendorCode, where).toBe('string');
}

/** Runs `call` within the deadline; a call that does not end fails the property as a hang. */
async function withDeadline<T>(call: string, run: () => Promise<T>): Promise<{ value: T } | { error: RouterError }> {
  let timer: NodeJS.Timeout | undefined;
  const started = Date.now();
  const notSlow = () => expect(Date.now() - started, `hang: ${call} took ${Date.now() - started} ms`).toBeLessThan(SLOW_CALL_MS);
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`hang: ${call} did not end within ${CALL_DEADLINE_MS} ms`)), CALL_DEADLINE_MS);
  });
  try {
    const value = await Promise.race([run(), hang]);
    notSlow();
    return { value };
  } catch (thrown) {
    expectTyped(thrown, call);
    notSlow();
    // The gate and the fake answer within milliseconds: a call ended only by its own deadline
    // was looping or waiting on something that never comes.
    expect(thrown.code, `hang: ${call} ended only by its deadline: ${thrown.message.slice(0, 300)}`).not.toBe(ERROR_CODES.timeout);
    return { error: thrown };
  } finally {
    clearTimeout(timer);
  }
}

export interface FlowOptions<Config, Session> {
  readonly manager: Manager<Config, unknown, Session>;
  readonly config: Config;
  readonly session: Session;
  readonly events: readonly JsonObject[];
  readonly stagingDir: string;
  /** Lets the vendor fake finish its imports before the first poll. */
  readonly completeImports: () => void | Promise<void>;
}

/** Upload, then every import polled to its end and its stats read; stops at the first typed error. */
export async function runFlow<Config, Session>(options: FlowOptions<Config, Session>): Promise<FlowEnd> {
  const { manager, config } = options;
  const ctx = (): CallContext<Config, Session> => callContext<Config, Session>(config, { session: options.session, timeoutMs: CONTEXT_DEADLINE_MS }).ctx;
  const built = await buildBatch(manager, config, options.events, { stagingDir: options.stagingDir });
  expect(built.transformAborted, 'the fuzz events must all transform').toEqual([]);
  const outcomes = new Map<string, JobOutcome>();
  const jobIds = built.allJobIds;
  const record = (outcome: JobOutcome, call: string) => {
    expectOutcome(outcome, call);
    expect(jobIds, `${call} named a job of no batch`).toContain(outcome.jobId);
    expect(outcomes.has(outcome.jobId), `${call} reported job ${outcome.jobId} twice`).toBe(false);
    outcomes.set(outcome.jobId, outcome);
  };

  const uploaded = await withDeadline('upload', () => manager.upload(built.batch, ctx()));
  if ('error' in uploaded) return { outcomes, jobIds, error: { call: 'upload', error: uploaded.error } };
  for (const outcome of uploaded.value.outcomes) record(outcome, 'upload');
  const imported = new Set<string>();
  for (const created of uploaded.value.imports ?? []) for (const job of created.jobs) {
    expect(outcomes.has(job.jobId) || imported.has(job.jobId), `upload accounted for job ${job.jobId} twice`).toBe(false);
    imported.add(job.jobId);
  }
  expect(outcomes.size + imported.size, 'upload must account for every job').toBe(jobIds.length);

  await options.completeImports();
  for (const [index, created] of (uploaded.value.imports ?? []).entries()) {
    const open: OpenImport = { importId: `fuzz-${index}`, uploadId: built.batch.uploadId, handle: created.handle, startedAt: Date.now(), pollCount: 0 };
    const jobs: ImportedJob[] = created.jobs.map((job) => ({ jobId: job.jobId, correlationKey: job.correlationKey ?? null }));
    const end = await followImport(manager, open, jobs, ctx, record);
    if (end) return { outcomes, jobIds, error: end };
  }
  return { outcomes, jobIds };
}

async function followImport<Config, Session>(
  manager: Manager<Config, unknown, Session>,
  open: OpenImport,
  jobs: readonly ImportedJob[],
  ctx: () => CallContext<Config, Session>,
  record: (outcome: JobOutcome, call: string) => void,
): Promise<FlowEnd['error']> {
  for (let pollCount = 0; pollCount < MAX_POLLS; pollCount += 1) {
    const polled = await withDeadline('poll', () => manager.poll({ ...open, pollCount }, ctx()));
    if ('error' in polled) return { call: 'poll', error: polled.error };
    const result = polled.value;
    expect(['in_progress', 'completed', 'failed'], `poll answered ${JSON.stringify(result)}`).toContain(result.status);
    if (result.status === 'in_progress') {
      if (result.progress !== undefined) expect(Number.isFinite(result.progress), `poll progress ${result.progress}`).toBe(true);
      continue;
    }
    if (result.status === 'failed') {
      expect(result.reason.trim().length, 'a failed poll needs a reason').toBeGreaterThan(0);
      for (const job of jobs) record({ jobId: job.jobId, kind: result.retryable ? 'retry' : 'aborted', reason: result.reason }, 'poll');
      return undefined;
    }
    const stats = result.hasRecordFailures || result.hasWarnings ? await readStats(manager, open, jobs, ctx) : { value: [] };
    if ('error' in stats) return { call: 'getUploadStats', error: stats.error };
    for (const outcome of stats.value) {
      expect(jobs.map((j) => j.jobId), 'getUploadStats named a job of another import').toContain(outcome.jobId);
      record(outcome, 'getUploadStats');
    }
    const mentioned = new Set(stats.value.map((o) => o.jobId));
    // Jobs getUploadStats leaves out count as succeeded (contract).
    for (const job of jobs) if (!mentioned.has(job.jobId)) record({ jobId: job.jobId, kind: 'succeeded' }, 'getUploadStats (left out)');
    return undefined;
  }
  return undefined;
}

/** Like the router: a RetryableError from getUploadStats means "ask again later". */
async function readStats<Config, Session>(manager: Manager<Config, unknown, Session>, open: OpenImport, jobs: readonly ImportedJob[], ctx: () => CallContext<Config, Session>) {
  let last: { value: readonly JobOutcome[] } | { error: RouterError } = { value: [] };
  for (let call = 0; call < MAX_STATS_CALLS; call += 1) {
    last = await withDeadline('getUploadStats', () => manager.getUploadStats(open, jobs, ctx()));
    if (!('error' in last) || !(last.error instanceof RetryableError)) return last;
  }
  return last;
}
