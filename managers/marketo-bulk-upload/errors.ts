/**
 * Marketo's error taxonomy: every code the Bulk Import API is documented to answer ("Error Codes",
 * "Bulk Lead Import", "Bulk Import") mapped to what the router should do. The README's "Errors"
 * table is this file in prose; change both together. A code Marketo does not document is never
 * given a meaning of its own: it is retried and named in the reason.
 *
 * Marketo answers most failures with HTTP 200 and `{"success": false, "errors": [{code, message}]}`.
 * 6xx codes mean the request was not executed at all, so repeating it is always safe.
 */
import { ERROR_CODES } from '../../src/manager/error-codes.ts';
import { ConfigError, PermanentError, RetryableError, SnoozeError, type RouterError } from '../../src/manager/errors.ts';

/** Access token invalid (601) or expired (602): fetch a new token and repeat once ("Authentication"). */
export const TOKEN_CODES: ReadonlySet<string> = new Set(['601', '602']);

/**
 * Transient server-side trouble, all documented as "retry": 502 bad gateway, 604 request time-out,
 * 608 API temporarily unavailable, 611 system error, 614 subscription unreachable, 713 transient
 * error, 719 lock wait timeout.
 */
const TRANSIENT_CODES: ReadonlySet<string> = new Set(['502', '604', '608', '611', '614', '713', '719']);

/** Marketo counts calls over a sliding 20 s window (100 allowed); 606 means wait for it to pass. */
export const RATE_WINDOW_MS = 20_000;
/** 607: the daily quota resets at midnight US Central; checking back hourly is cheap. */
const DAILY_QUOTA_SNOOZE_MS = 60 * 60 * 1000;
/** 615: at most 10 requests in flight per subscription; they finish within seconds. */
const CONCURRENCY_RETRY_MS = 5_000;

export interface ErrorContext {
  /** What was being done, for the message: "creating an import". */
  readonly what: string;
  /** Wait for 1016/1019 (the import queue is full), from config `queueFullRetryMs`. */
  readonly queueFullRetryMs: number;
  /** The config field a 1013 "Object not found" points at (`listId`, `customObjectApiName`, `programId`), when the call named one. */
  readonly objectField?: string;
}

/** The typed error for a Marketo error code (`code` as Marketo sends it: a quoted integer). */
export function marketoError(code: string, message: string, context: ErrorContext): RouterError {
  const text = `Marketo error ${code} "${message}" while ${context.what}`;
  const vendorCode = code;
  if (TOKEN_CODES.has(code)) return new RetryableError(`${text}, even with a freshly issued access token`, { vendorCode });
  if (TRANSIENT_CODES.has(code)) return new RetryableError(text, { vendorCode });
  const config = (field: string, why: string) => new ConfigError(`${text}: ${why}`, { field, vendorCode });
  switch (code) {
    case '606':
      return new RetryableError(`${text}: rate limit of 100 calls per 20 s reached`, { retryAfterMs: RATE_WINDOW_MS, code: ERROR_CODES.rateLimited, vendorCode });
    case '615':
      return new RetryableError(`${text}: 10 requests already running`, { retryAfterMs: CONCURRENCY_RETRY_MS, code: ERROR_CODES.rateLimited, vendorCode });
    case '607':
      return new SnoozeError(`${text}: the daily API quota is used up`, DAILY_QUOTA_SNOOZE_MS, { vendorCode });
    case '1016':
    case '1019':
      // 1016: the import queue (10 imports, 2 running) is full; 1019: the static list is being
      // imported to. Nothing is wrong with this batch, so it waits without spending an attempt.
      return new SnoozeError(`${text}: the import queue is busy; trying again later`, context.queueFullRetryMs, { vendorCode });
    case '1029':
      // Documented for bulk jobs as "too many jobs in queue" / "daily quota exceeded": a wait,
      // never an abort, should the bulk import ever answer it.
      return new SnoozeError(`${text}: Marketo's bulk job queue or daily bulk quota is full; trying again later`, context.queueFullRetryMs, { vendorCode });
    case '603':
      return config('clientId', 'the API user of this custom service lacks permission (or IP allowlisting blocks it)');
    case '1006':
      return config('fieldMapping', 'a column of "fieldMapping" is not a Marketo field');
    case '1011':
      return config('lookupField', 'Marketo cannot deduplicate on this field');
    case '1008':
    case '1009':
    case '1010':
      return config('partitionName', 'check the lead partition');
    case '1026':
      return config('object', 'custom objects are not enabled in this Marketo instance');
    case '1013':
      return context.objectField ? config(context.objectField, 'Marketo has no such object') : new PermanentError(text, { vendorCode });
  }
  // 605, 609, 610, 612, 613, 616, 7xx and record-level 1xxx: the request itself is wrong and
  // repeating it cannot help. Codes Marketo does not document are retried, never silently dropped.
  if (/^(60[59]|61[0236]|7\d\d|1\d\d\d)$/.test(code)) return new PermanentError(text, { vendorCode });
  return new RetryableError(`${text} (a code Marketo does not document; retried)`, { vendorCode, code: ERROR_CODES.badVendorResponse });
}

/** The typed error for an HTTP status outside 2xx (Marketo documents 413, 414, and 401 on identity). */
export function marketoHttpError(status: number, detail: string, what: string, retryAfterMs: number | undefined): RouterError {
  const text = `Marketo answered HTTP ${status} while ${what}${detail ? `: ${detail}` : ''}`;
  const vendorCode = String(status);
  if (status === 429 || status >= 500 || status === 408) return new RetryableError(text, { retryAfterMs, vendorCode });
  if (status === 413) return new PermanentError(`${text}; the request is over Marketo's 10 MB limit: lower "maxFileBytes"`, { vendorCode });
  if (status === 404) return new ConfigError(`${text}; check "restEndpoint"`, { field: 'restEndpoint', vendorCode });
  return new PermanentError(text, { vendorCode });
}

/**
 * Per-row failure reasons that say "not now" rather than "never" (a lock or timeout inside
 * Marketo): those rows are retried; every other failed row is aborted with Marketo's reason.
 */
export function isTransientRowReason(reason: string): boolean {
  return /lock wait|deadlock|timed? ?out|temporar|try again|system error|unavailable/i.test(reason);
}

/** A Marketo code at the start of a row's reason ("1004 Lead not found"), kept as the job's `vendorCode`. */
export function rowVendorCode(reason: string): string | undefined {
  return /^\s*(\d{3,4})\b/.exec(reason)?.[1];
}

/**
 * Whether an import Marketo reports `Failed` is worth sending again. A message about the file
 * itself (header, field, column, format) will fail the same way; anything else (a Marketo-side
 * error) is retried, within the job's attempt budget.
 */
export function isRetryableImportFailure(message: string): boolean {
  return !/header|field|column|format|invalid|malformed/i.test(message);
}
