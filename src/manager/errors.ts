/**
 * Errors typed by what the router should do with them. Managers throw these from `upload`,
 * `poll` and `getUploadStats` for failures that concern the whole call; per-job failures are
 * returned as data (`JobOutcome`). Any other thrown value is treated as retryable, because an
 * unknown failure (a bug, a network glitch) should not silently drop events.
 */

export type FailureAction = 'retry' | 'snooze' | 'abort' | 'config';

export abstract class RouterError extends Error {
  abstract readonly action: FailureAction;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Transient: try again later, spending an attempt. `retryAfterMs` honours a vendor's Retry-After. */
export class RetryableError extends RouterError {
  readonly action = 'retry' as const;
  readonly retryAfterMs: number | undefined;
  constructor(message: string, options?: { cause?: unknown; retryAfterMs?: number }) {
    super(message, options);
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
  constructor(message: string, retryAfterMs: number, options?: { cause?: unknown }) {
    super(message, options);
    this.retryAfterMs = retryAfterMs;
  }
}

/** Will never succeed (rejected payload, unsupported operation): abort the affected jobs. */
export class PermanentError extends RouterError {
  readonly action = 'abort' as const;
}

/**
 * The destination's configuration is wrong (bad credentials, missing field, pinned host key
 * mismatch). Aborts the affected jobs with the message; `field` names the config key to fix.
 */
export class ConfigError extends RouterError {
  readonly action = 'config' as const;
  readonly field: string | undefined;
  constructor(message: string, options?: { cause?: unknown; field?: string }) {
    super(message, options);
    this.field = options?.field;
  }
}

/** Turns anything thrown into an Error, keeping the original as `cause`. */
export function toError(thrown: unknown): Error {
  if (thrown instanceof Error) return thrown;
  return new Error(typeof thrown === 'string' ? thrown : `non-error thrown: ${safeString(thrown)}`, { cause: thrown });
}

/** Classifies a thrown value; unknown errors are retryable. */
export function classify(thrown: unknown): { action: FailureAction; message: string; retryAfterMs?: number } {
  const error = toError(thrown);
  if (error instanceof RetryableError) return { action: 'retry', message: error.message, retryAfterMs: error.retryAfterMs };
  if (error instanceof SnoozeError) return { action: 'snooze', message: error.message, retryAfterMs: error.retryAfterMs };
  if (error instanceof PermanentError) return { action: 'abort', message: error.message };
  if (error instanceof ConfigError) return { action: 'config', message: `destination config: ${error.message}` };
  if (error.name === 'AbortError' || error.name === 'TimeoutError') {
    return { action: 'retry', message: `call cancelled or timed out: ${error.message}` };
  }
  return { action: 'retry', message: describeError(error) };
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
