/**
 * Salesforce's error taxonomy for Bulk API 2.0: each HTTP answer and error code mapped to what
 * the router should do. The README's "Errors" table is this file in prose; change both together.
 *
 * Salesforce answers errors with a real HTTP status and a JSON array `[{errorCode, message}]`.
 */
import { ERROR_CODES } from '../../src/manager/error-codes.ts';
import { ConfigError, PermanentError, RetryableError, SnoozeError, type RouterError } from '../../src/manager/errors.ts';

/** REQUEST_LIMIT_EXCEEDED: the org's API allowance (rolling 24 h) is used up; checking back every 15 min is cheap. */
const LIMIT_SNOOZE_MS = 15 * 60 * 1000;
/** REQUEST_LIMIT_EXCEEDED for concurrent requests: passes as soon as other requests finish. */
const CONCURRENCY_RETRY_MS = 30_000;

export interface SalesforceErrorContext {
  /** What was being done, for the message: "creating an ingest job". */
  readonly what: string;
  /** Creating a job: a 404 there means a wrong `apiVersion`, a 400 a wrong object or field. */
  readonly creatingJob?: boolean;
}

/** The typed error for an unsuccessful Salesforce answer; `vendorCode` is Salesforce's `errorCode`. */
export function salesforceError(
  status: number,
  errorCode: string,
  message: string,
  context: SalesforceErrorContext,
  retryAfterMs?: number,
): RouterError {
  const text = `Salesforce answered HTTP ${status}${errorCode ? ` ${errorCode}` : ''}${message ? ` "${message}"` : ''} while ${context.what}`;
  const vendorCode = errorCode || undefined;
  if (status === 401) return new RetryableError(`${text}, even with a freshly issued access token`, { vendorCode });
  if (errorCode === 'REQUEST_LIMIT_EXCEEDED') {
    if (/concurrent/i.test(message)) {
      return new RetryableError(`${text}: too many concurrent requests to the org`, { retryAfterMs: retryAfterMs ?? CONCURRENCY_RETRY_MS, code: ERROR_CODES.rateLimited, vendorCode });
    }
    // Not this batch's fault and not fixed by retrying soon: wait without spending attempts.
    return new SnoozeError(`${text}: the org's API request limit is reached`, retryAfterMs ?? LIMIT_SNOOZE_MS, { vendorCode });
  }
  if (status === 429) return new RetryableError(text, { retryAfterMs, code: ERROR_CODES.rateLimited, vendorCode });
  if (status >= 500 || status === 408) return new RetryableError(text, { retryAfterMs, vendorCode });
  if (errorCode === 'API_DISABLED_FOR_ORG' || errorCode === 'INSUFFICIENT_ACCESS' || (status === 403 && errorCode !== 'INVALIDJOBSTATE')) {
    return new ConfigError(`${text}: the integration user lacks API or object permissions`, { field: 'clientId', vendorCode });
  }
  if (status === 413) return new PermanentError(`${text}; the file is over Salesforce's upload limit: lower "maxFileBytes"`, { vendorCode });
  if (context.creatingJob) {
    if (status === 404) return new ConfigError(`${text}; check "apiVersion"`, { field: 'apiVersion', vendorCode });
    if (/assignment ?rule/i.test(message)) return new ConfigError(`${text}; check "assignmentRuleId"`, { field: 'assignmentRuleId', vendorCode });
    if (/external ?id/i.test(message)) return new ConfigError(`${text}; check "externalIdFieldName"`, { field: 'externalIdFieldName', vendorCode });
    if (/hard ?delete/i.test(message)) return new ConfigError(`${text}; "hardDelete" needs the "Bulk API Hard Delete" permission`, { field: 'operation', vendorCode });
    if (/object|entity|sobject/i.test(message) || errorCode === 'INVALIDENTITY') return new ConfigError(`${text}; check "object"`, { field: 'object', vendorCode });
  }
  return new PermanentError(text, { vendorCode });
}

/** The error code at the start of an `sf__Error` cell: `REQUIRED_FIELD_MISSING:Required fields...`. */
export function rowErrorCode(sfError: string): string {
  return /^([A-Z_]+)\b/.exec(sfError.trim())?.[1] ?? '';
}

/**
 * Row errors that say "not now" rather than "never" (a record lock, a timeout, an outage): those
 * rows are retried; every other failed row is aborted with Salesforce's error.
 */
const TRANSIENT_ROW_CODES: ReadonlySet<string> = new Set([
  'UNABLE_TO_LOCK_ROW',
  'REQUEST_RUNNING_TOO_LONG',
  'SERVER_UNAVAILABLE',
  'API_TEMPORARILY_UNAVAILABLE',
  'QUERY_TIMEOUT',
]);

export function isTransientRowError(sfError: string): boolean {
  return TRANSIENT_ROW_CODES.has(rowErrorCode(sfError));
}

/**
 * Whether a job Salesforce reports `Failed` (with nothing processed) is worth sending again. An
 * error about the data or the job's definition fails the same way again; an internal error or a
 * timeout (Salesforce gave up after its own retries) is retried within the attempt budget.
 */
export function isRetryableJobFailure(errorMessage: string): boolean {
  return !/ClientInputError|InvalidBatch|InvalidJob|INVALID_FIELD|Field name not found|LineEnding|ColumnDelimiter/i.test(errorMessage);
}

/**
 * A job Salesforce failed because the org's rolling 24-hour record allowance for Bulk API ran out
 * ("Understanding Bulk API 2.0 Ingest": the remaining data is not processed, the job fails).
 */
export function isQuotaFailure(errorMessage: string): boolean {
  return /ExceededQuota|EXCEEDED_QUOTA|(daily|24[- ]hour).*limit|limit.*(daily|24[- ]hour)/i.test(errorMessage);
}
