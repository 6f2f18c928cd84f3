/**
 * The checks Marketo makes before a Bulk API call does anything, in the order a request meets
 * them: request size (HTTP 413), access token (601/602), then the subscription's limits: calls per
 * 20 s (606), the daily quota (607) and requests in flight (615). Error answers do not count
 * against the rate limit or the quota ("Error Codes", response-level errors), so only calls that
 * got through are recorded.
 */
import type { TokenStore } from '../../../test/fakes/oauth-vendor.ts';
import type { Reply, RouteRequest } from '../../../test/fakes/vendor-server.ts';

/** Marketo's error envelope: HTTP 200, `success: false`, one `{code, message}`. */
export const marketoErrorReply = (code: string, message: string): Reply => ({
  status: 200,
  json: { requestId: 'fake#err', success: false, errors: [{ code, message }] },
});

export interface GateLimits {
  /** Largest request body in bytes; Marketo answers 413 above 10 MB for imports. */
  maxRequestBytes: number;
  /** Calls allowed per window before 606; Marketo allows 100 per 20 s. */
  rateLimit: { calls: number; windowMs: number };
  /** Successful calls allowed in the fake's lifetime before 607 (Marketo: per day, 50,000 by default). */
  dailyQuota: number;
  /** Requests in flight before 615; Marketo processes 10 at a time per subscription. */
  concurrency: number;
  /**
   * Calls inside the gate wait for this, so a test keeps one in flight for as long as it needs to
   * meet the concurrency limit (a fixed delay raced the second call on a busy machine).
   */
  holdCalls: Promise<void> | undefined;
}

export class MarketoGate {
  readonly #calls: number[] = [];
  #quotaUsed = 0;
  #inFlight = 0;

  constructor(
    private readonly limits: GateLimits,
    private readonly tokens: TokenStore,
    /** Records each Marketo code the gate answered with. */
    private readonly onError: (code: string) => void,
  ) {}

  async pass(request: RouteRequest, handle: () => Promise<Reply> | Reply): Promise<Reply> {
    if (request.body.length > this.limits.maxRequestBytes) return { status: 413, text: 'Request Entity Too Large' };
    // The access_token query parameter is retired; only the Authorization header authenticates.
    const state = this.tokens.check(request.headers.authorization?.replace(/:ab$/, ''));
    if (state === 'invalid') return this.#error('601', 'Access token invalid');
    if (state === 'expired') return this.#error('602', 'Access token expired');
    const { calls, windowMs } = this.limits.rateLimit;
    const now = Date.now();
    while (this.#calls.length > 0 && this.#calls[0]! <= now - windowMs) this.#calls.shift();
    if (this.#calls.length >= calls) return this.#error('606', `Max rate limit '${calls}' exceeded with in '${windowMs / 1000}' secs`);
    if (this.#quotaUsed >= this.limits.dailyQuota) return this.#error('607', 'Daily quota reached');
    if (this.#inFlight >= this.limits.concurrency) return this.#error('615', 'Concurrent access limit reached');
    this.#inFlight += 1;
    try {
      await this.limits.holdCalls;
      const reply = await handle();
      const failed = (reply.json as { success?: boolean } | undefined)?.success === false;
      if (!failed) {
        this.#calls.push(now);
        this.#quotaUsed += 1;
      }
      return reply;
    } finally {
      this.#inFlight -= 1;
    }
  }

  #error(code: string, message: string): Reply {
    this.onError(code);
    return marketoErrorReply(code, message);
  }
}
