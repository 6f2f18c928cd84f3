/**
 * An OAuth access token shared by every call of one destination in this process (it lives in the
 * manager session). Concurrent callers share one token request; a token is reused until shortly
 * before it expires, and dropped as soon as the vendor calls it invalid or expired, so the next
 * call fetches a fresh one. The token itself is never logged and never leaves this object except
 * into an `Authorization` header.
 *
 * Renewing early only works if the vendor issues a new token. Marketo does not: asked before the
 * expiry, its identity service hands back the same token with its remaining lifetime. A token
 * handed back with less than the renewal margin left is therefore waited out (its remaining
 * lifetime plus a second, as `expires_in` counts whole seconds) and requested again, which then
 * yields a new one. Calls wait at most the margin; none is sent with a token about to expire.
 */
import { RetryableError } from '../../src/manager/errors.ts';

export interface IssuedToken<T> {
  readonly token: T;
  /** Lifetime the vendor announced (`expires_in`); undefined: valid until the vendor refuses it. */
  readonly expiresInMs?: number;
}

/** What a call given to `TokenCache.use` returns when the vendor refused its token. */
export const TOKEN_REFUSED: unique symbol = Symbol('token refused');

/** Renew this long before the announced expiry (at most a tenth of the lifetime), so a token never expires mid-request. */
const EARLY_RENEWAL_MS = 60_000;
/** `expires_in` is in whole seconds: waiting this much longer than it says makes sure the token is gone. */
const EXPIRY_SLACK_MS = 1_000;
/** Token requests in one renewal before a short-lived token is taken as it is (the vendor may keep handing it back). */
const MAX_ISSUES = 3;

export interface TokenCacheOptions {
  /** Renewal margin before the expiry; default 60 s (never more than a tenth of the longest lifetime seen). */
  readonly renewWithinMs?: number;
  /** Waits out a token about to expire; injectable for tests. */
  readonly sleep?: (ms: number) => Promise<void>;
}

const unrefSleep = (ms: number) =>
  new Promise<void>((resolve) => {
    // Unref'd: a pending renewal must not keep a stopping process alive.
    setTimeout(resolve, ms).unref();
  });

export class TokenCache<T> {
  #current: { token: T; expiresAt: number } | undefined;
  #pending: Promise<T> | undefined;
  /** The longest lifetime the vendor announced: the margin is a tenth of it at most, so a short test token still works. */
  #longestLifetime = 0;

  /**
   * `issue` requests a new token. It runs under its own timeout rather than a caller's signal:
   * the request is shared, and one caller giving up must not fail the others.
   */
  constructor(
    private readonly issue: () => Promise<IssuedToken<T>>,
    private readonly now: () => number = Date.now,
    private readonly options: TokenCacheOptions = {},
  ) {}

  /** A valid token, fetching one if needed. Rejects with `RetryableError` when `signal` aborts first. */
  async get(signal: AbortSignal): Promise<T> {
    if (signal.aborted) throw new RetryableError('cancelled (shutdown or call deadline) before an access token was obtained');
    const current = this.#current;
    if (current && this.now() < current.expiresAt) return current.token;
    this.#pending ??= this.#refresh().finally(() => {
      this.#pending = undefined;
    });
    return abortable(this.#pending, signal);
  }

  /**
   * Runs `call` with a valid token. When it returns `TOKEN_REFUSED` (the vendor called the token
   * invalid or expired) the token is dropped and `call` runs once more with a fresh one;
   * `lastChance` tells it that a second refusal must be thrown as its own typed error.
   */
  async use<R>(signal: AbortSignal, call: (token: T, lastChance: boolean) => Promise<R | typeof TOKEN_REFUSED>): Promise<R> {
    for (const lastChance of [false, true]) {
      const token = await this.get(signal);
      const result = await call(token, lastChance);
      if (result !== TOKEN_REFUSED) return result;
      this.invalidate(token);
    }
    throw new RetryableError('the vendor refused a freshly issued access token');
  }

  /** The vendor refused `token` (invalid or expired): forget it unless a newer one replaced it already. */
  invalidate(token: T): void {
    if (this.#current?.token === token) this.#current = undefined;
  }

  async #refresh(): Promise<T> {
    for (let issues = 1; ; issues += 1) {
      const issued = await this.issue();
      const lifetime = issued.expiresInMs;
      if (lifetime === undefined) {
        this.#current = { token: issued.token, expiresAt: Infinity };
        return issued.token;
      }
      this.#longestLifetime = Math.max(this.#longestLifetime, lifetime);
      const margin = Math.min(this.options.renewWithinMs ?? EARLY_RENEWAL_MS, this.#longestLifetime / 10);
      if (lifetime > margin || issues >= MAX_ISSUES) {
        this.#current = { token: issued.token, expiresAt: this.now() + lifetime - margin };
        return issued.token;
      }
      // The same token came back, about to expire: wait until it has, then ask for a new one.
      this.#current = undefined;
      await (this.options.sleep ?? unrefSleep)(lifetime + EXPIRY_SLACK_MS);
    }
  }
}

/** `promise`, or a `RetryableError` as soon as `signal` aborts. */
function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new RetryableError('cancelled (shutdown or call deadline) while waiting for an access token'));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}
