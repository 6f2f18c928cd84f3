/**
 * An OAuth access token shared by every call of one destination in this process (it lives in the
 * manager session). Concurrent callers share one token request; a token is reused until shortly
 * before it expires, and dropped as soon as the vendor calls it invalid or expired, so the next
 * call fetches a fresh one. The token itself is never logged and never leaves this object except
 * into an `Authorization` header.
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

export class TokenCache<T> {
  #current: { token: T; expiresAt: number } | undefined;
  #pending: Promise<T> | undefined;

  /**
   * `issue` requests a new token. It runs under its own timeout rather than a caller's signal:
   * the request is shared, and one caller giving up must not fail the others.
   */
  constructor(
    private readonly issue: () => Promise<IssuedToken<T>>,
    private readonly now: () => number = Date.now,
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
    const issued = await this.issue();
    const lifetime = issued.expiresInMs;
    const expiresAt = lifetime === undefined ? Infinity : this.now() + lifetime - Math.min(EARLY_RENEWAL_MS, lifetime / 10);
    this.#current = { token: issued.token, expiresAt };
    return issued.token;
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
