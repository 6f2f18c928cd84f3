/**
 * Marketo's error taxonomy: every code the bulk import can answer mapped to what the router
 * should do. The README's "Errors" table is this file in prose; change both together.
 *
 * Marketo answers most failures with HTTP 200 and `{"success": false, "errors": [{code, message}]}`.
 * 6xx codes mean the request was not executed at all, so repeating it is always safe.
 */
import { ConfigError, PermanentError, RetryableError, SnoozeError, type RouterError } from '../../src/manager/errors.ts';

/** Access token invalid (601), expired (602) or missing (600): fetch a new token and repeat once. */
export const TOKEN_CODES: ReadonlySet<string> = new Set(['600', '601', '602']);

/** Transient server-side trouble: 604 timeout, 608 unavailable, 611 system error, 614 subscription unreachable, 713 transient, 719 lock wait. */
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
  /** Whether `listId` / `partitionName` were sent, to name the field a 1013 / 10xx points at. */
  readonly sentListId?: boolean;
}

/** The typed error for a Marketo error code (`code` as Marketo sends it: a quoted integer). */
export function marketoError(code: string, message: string, context: ErrorContext): RouterError {
  const text = `Marketo error ${code} "${message}" while ${context.what}`;
  if (TOKEN_CODES.has(code)) return new RetryableError(`${text}, even with a freshly issued access token`);
  if (TRANSIENT_CODES.has(code)) return new RetryableError(text);
  switch (code) {
    case '606':
      return new RetryableError(`${text}: rate limit of 100 calls per 20 s reached`, { retryAfterMs: RATE_WINDOW_MS });
    case '615':
      return new RetryableError(`${text}: 10 requests already running`, { retryAfterMs: CONCURRENCY_RETRY_MS });
    case '607':
      return new SnoozeError(`${text}: the daily API quota is used up`, DAILY_QUOTA_SNOOZE_MS);
    case '1016':
    case '1019':
      // The account's import queue (10 imports, 2 running) is full, or the list is being imported
      // to: nothing is wrong with this batch, so it waits without spending an attempt.
      return new SnoozeError(`${text}: the import queue is full; trying again later`, context.queueFullRetryMs);
    case '603':
      return new ConfigError(`${text}: the API user of this custom service lacks permission (or IP allowlisting blocks it)`, { field: 'clientId' });
    case '1006':
      return new ConfigError(`${text}: a column of "fieldMapping" is not a Marketo field`, { field: 'fieldMapping' });
    case '1011':
      return new ConfigError(`${text}: Marketo cannot deduplicate on this field`, { field: 'lookupField' });
    case '1008':
    case '1009':
    case '1010':
      return new ConfigError(`${text}: check the lead partition`, { field: 'partitionName' });
    case '1013':
      return context.sentListId
        ? new ConfigError(`${text}: the static list does not exist`, { field: 'listId' })
        : new PermanentError(text);
  }
  // 605, 609, 610, 612, 613, 616, 7xx and record-level 1xxx: the request itself is wrong and
  // repeating it cannot help. Codes Marketo may add later are retried, never silently dropped.
  if (/^(60[59]|61[0236]|7\d\d|1\d\d\d)$/.test(code)) return new PermanentError(text);
  return new RetryableError(`${text} (unknown code, retried)`);
}

/** The typed error for an HTTP status outside 2xx (Marketo sends few: 413, 414, 5xx, 401 on identity). */
export function marketoHttpError(status: number, detail: string, what: string, retryAfterMs: number | undefined): RouterError {
  const text = `Marketo answered HTTP ${status} while ${what}${detail ? `: ${detail}` : ''}`;
  if (status === 429 || status >= 500 || status === 408) return new RetryableError(text, { retryAfterMs });
  if (status === 413) return new PermanentError(`${text}; the file is over Marketo's 10 MB limit: lower "maxFileBytes"`);
  if (status === 404) return new ConfigError(`${text}; check "restEndpoint"`, { field: 'restEndpoint' });
  return new PermanentError(text);
}

/**
 * Per-row failure reasons that say "not now" rather than "never" (a lock or timeout inside
 * Marketo): those rows are retried; every other failed row is aborted with Marketo's reason.
 */
export function isTransientRowReason(reason: string): boolean {
  return /lock wait|deadlock|timed? ?out|temporar|try again|system error|unavailable/i.test(reason);
}

/**
 * Whether an import Marketo reports `Failed` is worth sending again. A message about the file
 * itself (header, field, column, format) will fail the same way; anything else (a Marketo-side
 * error) is retried, within the job's attempt budget.
 */
export function isRetryableImportFailure(message: string): boolean {
  return !/header|field|column|format|invalid|malformed/i.test(message);
}
