/**
 * A client-side rate limiter: a token bucket holding at most `burst` tokens, refilled at
 * `perMinute` per minute. Vendors publish limits this way (Klaviyo: burst 10/s, steady 150/m);
 * staying under them avoids 429s rather than reacting to them. Lives in a manager session, so it
 * is per destination and per process: several processes sharing one account each get the full
 * rate, and the vendor's 429 + Retry-After (see `holdFor`) remains the backstop.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { RetryableError } from '../../src/manager/errors.ts';

export interface TokenBucketOptions {
  /** Steady rate: tokens added per minute. */
  readonly perMinute: number;
  /** Capacity: how many requests may go out back to back after a quiet spell. */
  readonly burst: number;
  /** Clock, for tests. */
  readonly now?: () => number;
}

export class TokenBucket {
  readonly #perMs: number;
  readonly #burst: number;
  readonly #now: () => number;
  #tokens: number;
  #refilledAt: number;
  /** No token is handed out before this time: set when the vendor said Retry-After. */
  #heldUntil = 0;

  constructor(options: TokenBucketOptions) {
    if (!(options.perMinute > 0) || !(options.burst >= 1)) throw new RangeError('perMinute must be > 0 and burst >= 1');
    this.#perMs = options.perMinute / 60_000;
    this.#burst = options.burst;
    this.#now = options.now ?? Date.now;
    this.#tokens = options.burst;
    this.#refilledAt = this.#now();
  }

  /**
   * Waits for a token and takes it. Rejects with `RetryableError` when `signal` aborts first, so
   * a shutdown never waits out the rate limit.
   */
  async take(signal: AbortSignal): Promise<void> {
    for (;;) {
      if (signal.aborted) throw new RetryableError('waiting for the client-side rate limit was cancelled (shutdown or call deadline)');
      const waitMs = this.tryTake();
      if (waitMs === 0) return;
      try {
        await sleep(waitMs, undefined, { signal });
      } catch {
        // Aborted while waiting: reported by the check at the top of the loop.
      }
    }
  }

  /** Takes a token if one is available now (returns 0), else returns the ms until one will be. */
  tryTake(): number {
    const now = this.#now();
    this.#refill(now);
    if (now < this.#heldUntil) return this.#heldUntil - now;
    if (this.#tokens >= 1) {
      this.#tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - this.#tokens) / this.#perMs));
  }

  /**
   * The vendor answered 429 with Retry-After: hand out no token for `ms`, so other calls of this
   * destination stop hammering too. One token is ready when the hold ends (the vendor said the
   * next request may go then); the rest refill at the steady rate, not as a burst.
   */
  holdFor(ms: number): void {
    const now = this.#now();
    this.#heldUntil = Math.max(this.#heldUntil, now + Math.max(0, ms));
    this.#tokens = 1;
    this.#refilledAt = Math.max(now, this.#heldUntil);
  }

  #refill(now: number): void {
    if (now <= this.#refilledAt) return;
    this.#tokens = Math.min(this.#burst, this.#tokens + (now - this.#refilledAt) * this.#perMs);
    this.#refilledAt = now;
  }
}
