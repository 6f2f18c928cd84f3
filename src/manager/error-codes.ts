/**
 * Stable, machine-readable codes for why a job or an upload failed. The human reason stays next to
 * the code; the code is what metrics, the API's filters and operators' scripts key on, so a code
 * never changes meaning once shipped. A manager may add vendor detail in `vendorCode` (Marketo
 * `1004`, Salesforce `INVALID_SESSION_ID`, a Klaviyo error `code`) without inventing a new code here.
 */
export const ERROR_CODES = {
  /** Anything thrown that is not one of the typed errors (a bug, an unexpected network failure). */
  unexpected: 'unexpected',
  /** The call was cancelled (shutdown) or passed its deadline. */
  timeout: 'timeout',
  /** The vendor answered 5xx, reset the connection, or was unreachable. */
  vendorUnavailable: 'vendor_unavailable',
  /** The vendor throttled us (HTTP 429, rate or concurrency limit codes). */
  rateLimited: 'rate_limited',
  /** The vendor's import queue or daily quota is full: snoozed, attempt refunded. */
  vendorBusy: 'vendor_busy',
  /** The vendor rejected this record (validation, duplicate, missing field). */
  recordRejected: 'record_rejected',
  /** The vendor failed this record for a reason that may pass (record locked, transient error). */
  recordRetryable: 'record_retryable',
  /** The event could not be turned into a row (bad field, too big). */
  badEvent: 'bad_event',
  /** The destination's configuration is wrong (credentials, URL, revision, field). */
  config: 'config',
  /** The vendor's answer could not be understood (garbage, inconsistent, wrong shape). */
  badVendorResponse: 'bad_vendor_response',
  /**
   * The vendor's totals and its listed result rows disagree and this job's fate is not known:
   * the manager's unconfirmed-outcome policy decided what happened to it (re-sent or aborted).
   */
  outcomeUnconfirmed: 'outcome_unconfirmed',
  /** The whole import failed at the vendor. */
  importFailed: 'import_failed',
  /** The import ran past `maxImportDurationMs`. */
  importExpired: 'import_expired',
  /** The worker holding the upload stopped renewing its lease (crashed or stalled). */
  workerLost: 'worker_lost',
  /** The manager returned no outcome for the job. */
  noOutcome: 'no_outcome',
  /** Withdrawn by a caller. */
  cancelled: 'cancelled',
} as const;

export type ErrorCode = (typeof ERROR_CODES)[keyof typeof ERROR_CODES];
