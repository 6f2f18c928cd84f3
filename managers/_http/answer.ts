/**
 * Reading a JSON API's answer in one step, for managers that classify by status and body
 * (klaviyo-bulk-import, async-http): status, redacted text, parsed JSON and Retry-After together.
 * Builds on `send` (request.ts) and the helpers in http.ts.
 */
import { parseRetryAfter, readCapped } from './http.ts';
import { ERROR_CODES, type ErrorCode } from '../../src/manager/error-codes.ts';

/** Most bytes of an answer read: status documents and error pages are small; anything more is noise. */
const DEFAULT_MAX_BYTES = 4 * 1024 * 1024;

export interface Answer {
  readonly status: number;
  readonly headers: Headers;
  /** The body (capped), with secrets already redacted. */
  readonly text: string;
  /** The body as JSON, or undefined when empty or not JSON. */
  readonly json: unknown;
  /** `Retry-After` in ms from now, when sent and readable. */
  readonly retryAfterMs: number | undefined;
}

/** Reads the whole (capped) answer; the connection is free for reuse afterwards. */
export async function readAnswer(response: Response, redact: (text: string) => string, maxBytes = DEFAULT_MAX_BYTES): Promise<Answer> {
  const text = redact(await readCapped(response, maxBytes));
  return {
    status: response.status,
    headers: response.headers,
    text,
    json: parseJson(text),
    retryAfterMs: parseRetryAfter(response.headers.get('retry-after')),
  };
}

/** The text parsed as JSON, or undefined when it is empty or not JSON. */
export function parseJson(text: string): unknown {
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** Statuses that mean "try again later": timeout, conflict, too early, rate limit, server errors. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 409 || status === 425 || status === 429 || status >= 500;
}

/**
 * The stable code for a retryable HTTP status: throttling is told apart from an unavailable
 * vendor because the cure differs (lower the rate vs wait for the vendor).
 */
export function retryCodeForStatus(status: number): ErrorCode {
  if (status === 429) return ERROR_CODES.rateLimited;
  if (status === 408) return ERROR_CODES.timeout;
  return ERROR_CODES.vendorUnavailable;
}

/** True when `candidate` is on the same origin as `base`: only then may credentials follow a link. */
export function sameOrigin(candidate: string, base: string): boolean {
  return URL.canParse(candidate) && new URL(candidate).origin === new URL(base).origin;
}
