/**
 * Klaviyo's rate limiting as the fake applies it ("Rate limits, status codes, and errors"): per
 * account (every caller with the same private key shares it), fixed windows of one second (burst)
 * and one minute (steady); a request over either gets 429 with `Retry-After` (seconds); every
 * other answer carries `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset` for the
 * steady window.
 */
export interface RateLimits {
  /** Requests per one-second window. Klaviyo's "M" tier (bulk import endpoints): 10. */
  burst: number;
  /** Requests per one-minute window. Klaviyo's "M" tier: 150. */
  steady: number;
}

export const DOCUMENTED_LIMITS: RateLimits = { burst: 10, steady: 150 };

interface Window {
  startedAt: number;
  count: number;
}

export class AccountLimiter {
  readonly #accounts = new Map<string, { burst: Window; steady: Window }>();
  throttled = 0;
  constructor(public limits: RateLimits, private readonly now: () => number = Date.now) {}

  /** Counts a request of `account`: the headers to send, and whether it is throttled. */
  admit(account: string): { throttled: boolean; headers: Record<string, string> } {
    const now = this.now();
    const state = this.#accounts.get(account) ?? { burst: { startedAt: now, count: 0 }, steady: { startedAt: now, count: 0 } };
    this.#accounts.set(account, state);
    roll(state.burst, now, 1_000);
    roll(state.steady, now, 60_000);
    const burstFull = state.burst.count >= this.limits.burst;
    const steadyFull = state.steady.count >= this.limits.steady;
    if (burstFull || steadyFull) {
      this.throttled += 1;
      const resetMs = steadyFull ? state.steady.startedAt + 60_000 - now : state.burst.startedAt + 1_000 - now;
      return { throttled: true, headers: { 'retry-after': String(Math.max(1, Math.ceil(resetMs / 1_000))) } };
    }
    state.burst.count += 1;
    state.steady.count += 1;
    return {
      throttled: false,
      headers: {
        'ratelimit-limit': String(this.limits.steady),
        'ratelimit-remaining': String(this.limits.steady - state.steady.count),
        'ratelimit-reset': String(Math.max(0, Math.ceil((state.steady.startedAt + 60_000 - now) / 1_000))),
      },
    };
  }
}

function roll(window: Window, now: number, lengthMs: number): void {
  if (now - window.startedAt >= lengthMs) {
    window.startedAt = now;
    window.count = 0;
  }
}
