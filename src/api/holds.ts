/**
 * Limits on connections the API holds open: SSE streams and `Prefer: wait` submits. Each holds a
 * socket and (for a wait) a request for up to a minute, so a client opening thousands could starve
 * everyone else. Counted per API key and per process; over either limit the request gets a 429
 * before anything is done for it (a submit over the limit writes no job).
 */
import { ApiError } from './errors.ts';

export class HoldLimits {
  readonly #perKey = new Map<string, number>();
  #total = 0;

  constructor(private readonly maxPerKey: number, private readonly maxTotal: number) {}

  get open(): number {
    return this.#total;
  }

  /** Takes a slot for `key`, or throws a 429 saying which limit was hit. The returned release is idempotent. */
  acquire(key: string, what: string): () => void {
    const mine = this.#perKey.get(key) ?? 0;
    if (mine >= this.maxPerKey) {
      throw new ApiError(429, 'too_many_streams', `this API key already holds ${mine} open ${what} (SSE streams and Prefer: wait requests), the limit per key `
        + '(BATCH_ROUTER_API_MAX_STREAMS_PER_KEY); close one before opening another', undefined, { 'Retry-After': '5' });
    }
    if (this.#total >= this.maxTotal) {
      throw new ApiError(429, 'too_many_streams', `the server already holds ${this.#total} open SSE streams and Prefer: wait requests, its limit `
        + '(BATCH_ROUTER_API_MAX_STREAMS); retry later or poll the status URL instead', undefined, { 'Retry-After': '5' });
    }
    this.#perKey.set(key, mine + 1);
    this.#total += 1;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#total -= 1;
      const left = (this.#perKey.get(key) ?? 1) - 1;
      if (left === 0) this.#perKey.delete(key);
      else this.#perKey.set(key, left);
    };
  }
}
