/**
 * HTTP helpers shared by the managers that talk to a vendor over HTTP (moved here from the
 * webhook manager). A directory starting with `_` is skipped by manager discovery, so this is a
 * plain module. Targets are shown without their query string and vendor text can be passed
 * through a redactor, so secrets stay out of messages.
 */

import { RetryableError, describeError, toError } from '../../src/manager/errors.ts';
import { ERROR_CODES } from '../../src/manager/error-codes.ts';

/**
 * `Retry-After` as milliseconds from now: delta-seconds or an HTTP date (RFC 9110 §10.2.3).
 * Undefined when absent or unreadable, so the router's own backoff applies.
 */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (value === null) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/**
 * Up to `maxBytes` of the response body as text; the rest is discarded unread. A body that ends
 * early (connection reset mid-body, fewer bytes than Content-Length) is a `RetryableError`: fetch
 * rejects the read with a bare TypeError, which would otherwise reach the router as a bug, and a
 * partial answer must never be classified as if it were whole.
 */
export async function readCapped(response: Response, maxBytes: number): Promise<string> {
  if (!response.body) return '';
  const reader = response.body.getReader();
  const parts: Uint8Array[] = [];
  let size = 0;
  while (size < maxBytes) {
    let chunk: ReadableStreamReadResult<Uint8Array>;
    try {
      chunk = await reader.read();
    } catch (thrown) {
      throw new RetryableError(
        `the vendor's ${response.status} answer ended after ${size} bytes, before its body was complete: ${describeError(toError(thrown))}`,
        { cause: thrown, code: ERROR_CODES.vendorUnavailable },
      );
    }
    const { done, value } = chunk;
    if (done) return Buffer.concat(parts).toString('utf8');
    parts.push(value);
    size += value.byteLength;
  }
  await reader.cancel();
  return Buffer.concat(parts).subarray(0, maxBytes).toString('utf8');
}

/** Origin and path only: a query string may carry a token and must not reach error messages. */
export function describeTarget(url: string): string {
  // A URL built from a vendor's answer may not parse; the request then fails with a typed error naming this.
  if (!URL.canParse(url)) return 'an invalid URL';
  const parsed = new URL(url);
  return `${parsed.origin}${parsed.pathname}`;
}

/**
 * Replaces each secret (and the token part of "Scheme token" values) wherever it appears, for
 * vendor answers that echo a credential back.
 */
export function secretRedactor(values: Iterable<string | undefined>): (text: string) => string {
  const secrets = new Set<string>();
  for (const value of values) {
    if (!value) continue;
    secrets.add(value.trim());
    const token = value.trim().split(/\s+/).pop();
    if (token) secrets.add(token);
  }
  // Very short values would turn ordinary words into "[redacted]" and protect nothing.
  const list = [...secrets].filter((secret) => secret.length >= 4).sort((a, b) => b.length - a.length);
  return (text) => list.reduce((out, secret) => out.split(secret).join('[redacted]'), text);
}
