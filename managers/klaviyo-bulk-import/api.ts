/**
 * Klaviyo's HTTP surface as this manager uses it: authenticated JSON:API requests paced by the
 * session's token bucket, and the mapping from Klaviyo's answers to the router's typed errors.
 * The API key travels only in the Authorization header; anything Klaviyo echoes is redacted.
 */
import type { Logger } from 'pino';
import type { CallContext, SessionServices } from '../../src/manager/contract.ts';
import { ConfigError, PermanentError, RetryableError } from '../../src/manager/errors.ts';
import { isRetryableStatus, readAnswer, retryCodeForStatus } from '../_http/answer.ts';
import { secretRedactor } from '../_http/http.ts';
import { excerpt, send, vendorText } from '../_http/request.ts';
import { TokenBucket } from '../_http/token-bucket.ts';
import { SharedRateLimit, type RateLimiter } from './shared-rate-limit.ts';
import { DEFAULT_REVISION, type KlaviyoConfig } from './config.ts';

export const JOBS_PATH = '/api/profile-bulk-import-jobs';
/** Per request; a bulk import is accepted or refused in seconds, far below the upload deadline. */
const REQUEST_TIMEOUT_MS = 60_000;
/** Without a Retry-After, a 429 pauses this destination's requests for this long. */
const DEFAULT_THROTTLE_MS = 1_000;
const MEDIA_TYPE = 'application/vnd.api+json';

/**
 * Per destination and process: the rate limiter every call shares. With the router's database it
 * is the account's bucket in PostgreSQL (shared by every process and destination with the key);
 * without one (a manager driven outside the router), a bucket of this process only.
 */
export interface KlaviyoSession {
  readonly limiter: RateLimiter;
}

/** A call's context; the session is absent when the manager is driven outside the router. */
export type KlaviyoContext = CallContext<KlaviyoConfig, KlaviyoSession | undefined>;

export function createKlaviyoSession(config: KlaviyoConfig, log: Logger, services: SessionServices = {}): KlaviyoSession {
  const limits = { perMinute: config.rateLimitPerMinute, burst: config.rateLimitBurst };
  return { limiter: services.db ? new SharedRateLimit(services.db, config.apiKey, limits, log) : new TokenBucket(limits) };
}

/** One JSON:API error object, as Klaviyo sends them in `errors[]`. */
export interface KlaviyoError {
  readonly code?: string;
  readonly title?: string;
  readonly detail?: string;
  readonly source?: { readonly pointer?: string; readonly parameter?: string };
}

export interface KlaviyoResponse {
  readonly status: number;
  readonly body: unknown;
  readonly errors: readonly KlaviyoError[];
  readonly retryAfterMs: number | undefined;
  /** The raw (redacted) body, for messages when it is not JSON. */
  readonly text: string;
}

/** `path` is relative to `baseUrl`, or an absolute URL on the same origin (a `links.next`). */
export async function klaviyoRequest(
  ctx: KlaviyoContext,
  method: 'GET' | 'POST',
  path: string,
  body?: string,
): Promise<KlaviyoResponse> {
  const { config } = ctx;
  const url = path.startsWith('/') ? `${config.baseUrl}${path}` : path;
  const headers = new Headers({
    authorization: `Klaviyo-API-Key ${config.apiKey}`,
    revision: config.revision,
    accept: MEDIA_TYPE,
    'user-agent': 'batch-router-klaviyo-bulk-import/1',
  });
  if (body !== undefined) headers.set('content-type', MEDIA_TYPE);
  const session = ctx.session;
  // Without a session (a caller outside the router) there is no shared limiter to honour.
  await session?.limiter.take(ctx.signal);
  const redact = secretRedactor([config.apiKey]);
  const response = await send({
    label: `Klaviyo ${method}`,
    url,
    init: { method, headers, ...(body !== undefined ? { body } : {}) },
    signal: ctx.signal,
    timeoutMs: REQUEST_TIMEOUT_MS,
    redact,
  });
  const answer = await readAnswer(response, redact);
  if (answer.status === 429) await session?.limiter.holdFor(answer.retryAfterMs ?? DEFAULT_THROTTLE_MS);
  return { status: answer.status, body: answer.json, errors: errorsOf(answer.json), retryAfterMs: answer.retryAfterMs, text: answer.text };
}

/**
 * The typed error for an unsuccessful answer to `what` ("creating an import job"): 429/5xx retry
 * after Retry-After, 401/403 name the key, redirects name the base URL, other 4xx are permanent.
 */
export function klaviyoFailure(response: KlaviyoResponse, what: string): Error {
  const { status } = response;
  const detail = describeErrors(response.errors) || excerpt(response.text);
  const message = `Klaviyo answered ${status} to ${what}${detail ? `: ${detail}` : ''}`;
  const vendorCode = response.errors.find((e) => e.code)?.code;
  const codes = vendorCode === undefined ? {} : { vendorCode };
  if (isRevisionRefused(response)) {
    // A retired (410) or unknown revision refuses every request alike: a config fix, not a bad batch.
    return new ConfigError(`${message}; set revision to a revision Klaviyo supports, such as ${DEFAULT_REVISION} (revisions retire two years after release; see Klaviyo's API versioning and deprecation policy)`, { field: 'revision', ...codes });
  }
  if (isRetryableStatus(status)) return new RetryableError(message, { retryAfterMs: response.retryAfterMs, code: retryCodeForStatus(status), ...codes });
  if (status === 401 || status === 403) {
    return new ConfigError(`${message}; check that apiKey is a private key with the profiles and lists read/write scopes`, { field: 'apiKey', ...codes });
  }
  if (status >= 300 && status < 400) return new ConfigError(`${message}; baseUrl must be the API origin itself (https://a.klaviyo.com)`, { field: 'baseUrl', ...codes });
  return new PermanentError(message, codes);
}

/**
 * True when Klaviyo refused the `revision` header: 410 Gone (a retired revision, per its
 * versioning policy) or a 4xx whose error names the revision parameter.
 */
function isRevisionRefused(response: KlaviyoResponse): boolean {
  if (response.status === 410) return true;
  if (response.status < 400 || response.status >= 500 || response.status === 429) return false;
  return response.errors.some((e) => e.source?.parameter === 'revision' || /\brevision\b/i.test(e.detail ?? ''));
}

/** "code: detail" of each error, joined; what people read on an aborted job. */
export function describeErrors(errors: readonly KlaviyoError[]): string {
  return excerpt(errors.map(describeError).join('; '));
}

export function describeError(error: KlaviyoError): string {
  const text = error.detail || error.title || 'no detail given';
  return error.code ? `${text} (${error.code})` : text;
}

function errorsOf(body: unknown): KlaviyoError[] {
  if (typeof body !== 'object' || body === null) return [];
  const errors = (body as { errors?: unknown }).errors;
  if (!Array.isArray(errors)) return [];
  return errors.filter((e): e is Record<string, unknown> => typeof e === 'object' && e !== null).map(klaviyoError);
}

/**
 * One JSON:API error with text where text belongs. Fields of another type (a number, an object
 * owning a `toString` key) are written out as JSON rather than trusted: they end up in messages,
 * regular expressions and `vendorCode`, which must be a string. Empty fields are left out.
 */
export function klaviyoError(raw: Record<string, unknown>): KlaviyoError {
  const text = (value: unknown) => vendorText(value) || undefined;
  const source = typeof raw.source === 'object' && raw.source !== null ? (raw.source as Record<string, unknown>) : {};
  const pointer = text(source.pointer);
  const parameter = text(source.parameter);
  return {
    ...(text(raw.code) ? { code: text(raw.code) } : {}),
    ...(text(raw.title) ? { title: text(raw.title) } : {}),
    ...(text(raw.detail) ? { detail: text(raw.detail) } : {}),
    ...(pointer || parameter ? { source: { ...(pointer ? { pointer } : {}), ...(parameter ? { parameter } : {}) } } : {}),
  };
}
