/**
 * The callback loop, run by every process that serves the API. Each round:
 * 1. records the final state of submissions whose jobs are all final, and queues one callback
 *    event for each that asked for one, in the same transaction (so exactly one event per final
 *    state, however many processes run this);
 * 2. claims due attempts (SKIP LOCKED, under a lease) and sends them: 2xx delivers, 410 stops for
 *    good, anything else is retried on the configured schedule with ±20% jitter (a longer
 *    `Retry-After` wins) until the schedule is spent;
 * 3. now and then forgets expired idempotency keys and old, pruned submissions.
 */
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { AppConfig } from '../../config.ts';
import { decodeWebhookSecret } from '../../config-formats.ts';
import { claimDueDeliveries, insertDeliveries, recordAttempt } from '../store/callback-deliveries.repository.ts';
import { deleteExpiredIdempotencyKeys } from '../store/idempotency-keys.repository.ts';
import type { CallbackDeliveryRow, Database } from '../../db/schema.ts';
import { deleteOldSubmissions, finalizeSubmissions } from '../store/submissions.repository.ts';
import { Loop } from '../../util/loop.ts';
import type { ApiMetrics } from '../metrics.ts';
import { callbackEvent, ERRORS_SHOWN } from '../views.ts';
import type { CallbackPolicy } from './allow-list.ts';
import { postCallback, type AttemptResult } from './sender.ts';
import { newMessageId, webhookHeaders } from './signing.ts';

const FINALIZE_BATCH = 100;
const SEND_BATCH = 20;
const HOUSEKEEPING_EVERY_MS = 60_000;
const MAX_RETRY_AFTER_MS = 24 * 3_600_000;

export interface CallbackLoopOptions {
  db: Kysely<Database>;
  log: Logger;
  config: AppConfig;
  policy: CallbackPolicy;
  metrics: ApiMetrics;
  /** Lease owner name of this process. */
  owner: string;
}

/** Delay before the attempt after `attemptsMade` attempts, or undefined when the schedule is spent. */
export function nextDelayMs(schedule: readonly number[], attemptsMade: number, retryAfterMs?: number, random = Math.random): number | undefined {
  const planned = schedule[attemptsMade];
  if (planned === undefined) return undefined;
  const jittered = planned * (0.8 + 0.4 * random());
  return Math.round(Math.max(jittered, Math.min(retryAfterMs ?? 0, MAX_RETRY_AFTER_MS)));
}

export function createCallbackLoop(options: CallbackLoopOptions): Loop {
  const { db, log, config } = options;
  const secret = config.callbackSecret ? decodeWebhookSecret(config.callbackSecret).value : undefined;
  let lastHousekeeping = 0;

  async function finalize(): Promise<number> {
    return db.transaction().execute(async (trx) => {
      const finalized = await finalizeSubmissions(trx, FINALIZE_BATCH, ERRORS_SHOWN);
      const deliveries = finalized
        .filter((s) => s.callbackUrl !== null)
        .map((s) => ({ id: newMessageId(), submissionId: s.id, url: s.callbackUrl!, body: JSON.stringify(callbackEvent(s)) }));
      await insertDeliveries(trx, deliveries, config.callbackRetrySchedule[0] ?? 0);
      return finalized.length;
    });
  }

  async function attempt(row: CallbackDeliveryRow, signal: AbortSignal): Promise<void> {
    const result: AttemptResult = secret
      ? await postCallback({
          url: row.url,
          body: row.body,
          headers: webhookHeaders(secret, row.id, row.body),
          timeoutMs: config.callbackTimeoutMs,
          lookup: options.policy.pinnedLookup(),
          literalProblem: (address) => options.policy.addressProblem(address, address),
          signal,
        })
      : { status: null, error: 'BATCH_ROUTER_CALLBACK_SECRET is not set on the process sending callbacks' };
    // Cut short by shutdown: not the receiver's fault, so record nothing; the lease lapses and
    // this or another process makes the attempt again.
    if (signal.aborted) return;
    const made = row.attempts + 1;
    let state: 'delivered' | 'gone' | 'pending' | 'failed';
    let retryInMs: number | undefined;
    if (result.status !== null && result.status >= 200 && result.status < 300) state = 'delivered';
    else if (result.status === 410) state = 'gone';
    else {
      retryInMs = nextDelayMs(config.callbackRetrySchedule, made, result.retryAfterMs);
      state = retryInMs === undefined ? 'failed' : 'pending';
    }
    options.metrics.callbackAttempts.inc({ outcome: state === 'pending' ? 'retry' : state });
    const recorded = await recordAttempt(db, { id: row.id, owner: options.owner, state, status: result.status, error: result.error, retryInMs });
    const level = state === 'delivered' ? 'debug' : state === 'pending' ? 'info' : 'warn';
    log[level]({ callbackId: row.id, submissionId: row.submission_id, attempt: made, status: result.status, state, retryInMs, recorded, error: result.error ?? undefined }, 'callback attempt');
  }

  async function housekeeping(): Promise<void> {
    if (Date.now() - lastHousekeeping < HOUSEKEEPING_EVERY_MS) return;
    lastHousekeeping = Date.now();
    while ((await deleteExpiredIdempotencyKeys(db, config.idempotencyTtlMs, 5000)) === 5000);
    if (config.retentionMaxAgeMs > 0) while ((await deleteOldSubmissions(db, config.retentionMaxAgeMs, 1000)) === 1000);
  }

  return new Loop(
    'callbacks',
    async (signal) => {
      const finalized = await finalize();
      const leaseMs = config.callbackTimeoutMs + 30_000;
      const claimed = signal.aborted ? [] : await claimDueDeliveries(db, { owner: options.owner, leaseMs, limit: SEND_BATCH });
      await Promise.all(claimed.map((row) => attempt(row, signal)));
      await housekeeping();
      return finalized === FINALIZE_BATCH || claimed.length === SEND_BATCH ? 0 : config.callbackPollMs;
    },
    log,
  );
}
