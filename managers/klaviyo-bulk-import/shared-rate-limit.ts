/**
 * Klaviyo's rate limit coordinated through PostgreSQL: one token bucket per account (table
 * `br_klaviyo_rate_limits`, migration 2026-12-05T00-00-03), so every process and every destination
 * with the same API key draws on one budget, as Klaviyo counts it. All of this limiter's SQL is
 * here.
 *
 * Taking a token is one statement: refill by the time elapsed (capped at the burst), subtract one,
 * and answer how long to wait: until the token exists (a negative balance is a reservation of a
 * future token) and until any hold from a 429's Retry-After has passed. No lock is held while
 * waiting, and no caller retries the statement.
 */
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { sql, type Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Database } from '../../src/db/schema.ts';
import { RetryableError } from '../../src/manager/errors.ts';
import { TokenBucket } from '../_http/token-bucket.ts';

/** What `klaviyoRequest` needs of a limiter; a process-local TokenBucket has the same shape. */
export interface RateLimiter {
  take(signal: AbortSignal): Promise<void>;
  /** Resolves once the hold is recorded where every caller of the account will see it. */
  holdFor(ms: number): void | Promise<void>;
}

export interface SharedLimits {
  readonly perMinute: number;
  readonly burst: number;
}

/** The account's row key: a hash, so the table never holds a credential. */
export function accountKey(apiKey: string): string {
  return createHash('sha256').update(`klaviyo-account:${apiKey}`).digest('hex');
}

export class SharedRateLimit implements RateLimiter {
  readonly #account: string;
  /** Used while the database cannot be reached: pacing per process beats not pacing. */
  readonly #fallback: TokenBucket;
  #warned = false;

  constructor(
    private readonly db: Kysely<Database>,
    apiKey: string,
    private readonly limits: SharedLimits,
    private readonly log: Logger,
  ) {
    this.#account = accountKey(apiKey);
    this.#fallback = new TokenBucket(limits);
  }

  async take(signal: AbortSignal): Promise<void> {
    if (signal.aborted) throw new RetryableError('waiting for the Klaviyo rate limit was cancelled (shutdown or call deadline)');
    let waitMs: number;
    try {
      waitMs = await this.#reserve();
    } catch (error) {
      this.#degrade(error);
      return this.#fallback.take(signal);
    }
    if (waitMs <= 0) return;
    try {
      await sleep(waitMs, undefined, { signal });
    } catch {
      throw new RetryableError('waiting for the Klaviyo rate limit was cancelled (shutdown or call deadline)');
    }
  }

  /** Pauses every caller of the account for `ms` (a 429's Retry-After). */
  async holdFor(ms: number): Promise<void> {
    this.#fallback.holdFor(ms);
    await sql`INSERT INTO br_klaviyo_rate_limits AS b (account, tokens, refilled_at, held_until)
        VALUES (${this.#account}, ${this.limits.burst}, clock_timestamp(), clock_timestamp() + ${ms} * interval '1 millisecond')
        ON CONFLICT (account) DO UPDATE
          SET held_until = GREATEST(b.held_until, clock_timestamp() + ${ms} * interval '1 millisecond')`
      .execute(this.db)
      .catch((error: unknown) => this.#degrade(error));
  }

  /** Takes a token (or reserves the next one); resolves to the ms to wait before using it. */
  async #reserve(): Promise<number> {
    const perSecond = this.limits.perMinute / 60;
    const { rows } = await sql<{ wait_ms: number }>`
      INSERT INTO br_klaviyo_rate_limits AS b (account, tokens, refilled_at)
      VALUES (${this.#account}, ${this.limits.burst - 1}, clock_timestamp())
      ON CONFLICT (account) DO UPDATE SET
        tokens = LEAST(${this.limits.burst}::float8,
                       b.tokens + GREATEST(0, EXTRACT(EPOCH FROM clock_timestamp() - b.refilled_at)) * ${perSecond}::float8) - 1,
        refilled_at = GREATEST(b.refilled_at, clock_timestamp())
      RETURNING GREATEST(0, -b.tokens / ${perSecond}::float8 * 1000,
                         EXTRACT(EPOCH FROM b.held_until - clock_timestamp()) * 1000)::float8 AS wait_ms`.execute(this.db);
    return Number(rows[0]?.wait_ms ?? 0);
  }

  #degrade(error: unknown): void {
    if (this.#warned) return;
    this.#warned = true;
    this.log.warn({ err: error }, 'the shared Klaviyo rate limit is unavailable (database); pacing this process on its own until it is back');
  }
}
