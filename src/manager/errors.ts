/**
 * Errors typed by what the router should do with them. Managers throw these from `upload`,
 * `poll` and `getUploadStats` for failures that concern the whole call; per-job failures are
 * returned as data (`JobOutcome`). Any other thrown value is treated as retryable, because an
 * unknown failure (a bug, a network glitch) should not silently drop events.
 */

import { ERROR_CODES, type ErrorCode } from './error-codes.ts';

export type FailureAction = 'retry' | 'snooze' | 'abort' | 'config';

/** Options every typed error takes: the cause, a stable code and the vendor's own code. */
export interface RouterErrorOptions {
  cause?: unknown;
  /** Stable machine-readable code; each class has a default. */
  code?: ErrorCode;
  /** The vendor's own error code, verbatim, when the vendor gave one. */
  vendorCode?: string;
}

export abstract class RouterError extends Error {
  abstract readonly action: FailureAction;
  /** Stable machine-readable code (see error-codes.ts), stored with the job's last error. */
  readonly code: ErrorCode;
  readonly vendorCode: string | undefined;
  constructor(message: string, options: RouterErrorOptions | undefined, defaultCode: ErrorCode) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = options?.code ?? defaultCode;
    this.vendorCode = options?.vendorCode;
  }
}

/** Transient: try again later, spending an attempt. `retryAfterMs` honours a vendor's Retry-After. */
export class RetryableError extends RouterError {
  readonly action = 'retry' as const;
  readonly retryAfterMs: number | undefined;
  constructor(message: string, options?: RouterErrorOptions & { retryAfterMs?: number }) {
    super(message, options, ERROR_CODES.vendorUnavailable);
    this.retryAfterMs = options?.retryAfterMs;
  }
}

/**
 * The vendor is busy for reasons that are not this batch's fault (an import queue is full):
 * try again after `retryAfterMs` without spending an attempt.
 */
export class SnoozeError extends RouterError {
  readonly action = 'snooze' as const;
  readonly retryAfterMs: number;
  constructor(message: string, retryAfterMs: number, options?: RouterErrorOptions) {
    super(message, options, ERROR_CODES.vendorBusy);
    this.retryAfterMs = retryAfterMs;
  }
}

/** Will never succeed (rejected payload, unsupported operation): abort the affected jobs. */
export class PermanentError extends RouterError {
  readonly action = 'abort' as const;
  constructor(message: string, options?: RouterErrorOptions) {
    super(message, options, ERROR_CODES.recordRejected);
  }
}

/**
 * The destination's configuration is wrong (bad credentials, missing field, pinned host key
 * mismatch). Aborts the affected jobs with the message; `field` names the config key to fix.
 */
export class ConfigError extends RouterError {
  readonly action = 'config' as const;
  readonly field: string | undefined;
  constructor(message: string, options?: RouterErrorOptions & { field?: string }) {
    super(message, options, ERROR_CODES.config);
    this.field = options?.field;
  }
}

/** Turns anything thrown into an Error, keeping the original as `cause`. */
export function toError(thrown: unknown): Error {
  if (thrown instanceof Error) return thrown;
  return new Error(typeof thrown === 'string' ? thrown : `non-error thrown: ${safeString(thrown)}`, { cause: thrown });
}

/** What the router does with a failure, and the codes it records. */
export interface Classified {
  action: FailureAction;
  message: string;
  code: ErrorCode;
  vendorCode?: string;
  retryAfterMs?: number;
}

/** Classifies a thrown value; unknown errors are retryable. */
export function classify(thrown: unknown): Classified {
  const error = toError(thrown);
  const codes = error instanceof RouterError ? { code: error.code, ...(error.vendorCode ? { vendorCode: error.vendorCode } : {}) } : undefined;
  if (error instanceof RetryableError) return { action: 'retry', message: error.message, retryAfterMs: error.retryAfterMs, ...codes! };
  if (error instanceof SnoozeError) return { action: 'snooze', message: error.message, retryAfterMs: error.retryAfterMs, ...codes! };
  if (error instanceof PermanentError) return { action: 'abort', message: error.message, ...codes! };
  if (error instanceof ConfigError) return { action: 'config', message: `destination config: ${error.message}`, ...codes! };
  if (error.name === 'AbortError' || error.name === 'TimeoutError') {
    return { action: 'retry', message: `call cancelled or timed out: ${error.message}`, code: ERROR_CODES.timeout };
  }
  return { action: 'retry', message: describeError(error), code: ERROR_CODES.unexpected };
}

/** "message (cause: inner message)" so nested failures stay readable in one line. */
export function describeError(error: Error): string {
  const cause = error.cause instanceof Error && error.cause.message !== error.message ? ` (cause: ${error.cause.message})` : '';
  return `${error.message}${cause}`;
}

function safeString(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/**
 * Log fields for a failure the router handles. Expected failures (timeouts, vendor 5xx, anything
 * a manager classified) are routine: the reason and its codes say enough, and a stack per retry
 * would bury real problems. Only an unexpected error keeps its stack.
 */
export function failureLogFields(thrown: unknown, failure: Classified): Record<string, unknown> {
  if (failure.code === ERROR_CODES.unexpected) return { err: toError(thrown), action: failure.action };
  return {
    action: failure.action,
    reason: failure.message,
    code: failure.code,
    ...(failure.vendorCode ? { vendorCode: failure.vendorCode } : {}),
    ...(failure.retryAfterMs !== undefined ? { retryAfterMs: failure.retryAfterMs } : {}),
  };
}
