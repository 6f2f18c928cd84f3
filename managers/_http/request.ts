/**
 * One vendor request and the reading of its answer, for the bulk-import managers (Marketo,
 * Salesforce): a per-request timeout on top of the call's signal, failures to get an answer
 * turned into `RetryableError`, and small readers for JSON bodies and error excerpts.
 */
import { RetryableError, describeError, toError } from '../../src/manager/errors.ts';
import { describeTarget, readCapped } from './http.ts';
import { ERROR_CODES } from '../../src/manager/error-codes.ts';

/** Enough of an error body to explain it; a huge HTML error page is not worth reading whole. */
export const ERROR_TEXT_CHARS = 500;

export interface SendOptions {
  /** Names the call in errors: "Marketo create import". */
  readonly label: string;
  readonly url: string;
  readonly init: RequestInit;
  /** The manager call's signal (shutdown, call deadline). */
  readonly signal: AbortSignal;
  /** Limit for this one request, body included. */
  readonly timeoutMs: number;
  /** Appended to the timeout message, e.g. a hint about which setting to raise. */
  readonly timeoutHint?: string;
  readonly redact?: (text: string) => string;
}

/**
 * One fetch with a per-request timeout on top of the call's signal. Any answer, whatever its
 * status, is returned for the caller to classify; failing to get one (cancelled, timed out,
 * network error) is a `RetryableError` naming the call and its target. Redirects are not
 * followed: a redirect would resend credentials to a host nobody configured.
 */
export async function send(options: SendOptions): Promise<Response> {
  const timeout = AbortSignal.timeout(options.timeoutMs);
  const target = describeTarget(options.url);
  const redact = options.redact ?? ((text: string) => text);
  try {
    return await fetch(options.url, {
      redirect: 'manual',
      ...options.init,
      signal: AbortSignal.any([options.signal, timeout]),
    });
  } catch (thrown) {
    if (options.signal.aborted) {
      throw new RetryableError(`${options.label} to ${target} was cancelled (shutdown or call deadline)`, { cause: thrown, code: ERROR_CODES.timeout });
    }
    if (timeout.aborted) {
      throw new RetryableError(
        `${options.label}: ${target} did not answer within ${options.timeoutMs} ms${options.timeoutHint ?? ''}`,
        { cause: thrown, code: ERROR_CODES.timeout },
      );
    }
    throw new RetryableError(`${options.label} to ${target} failed: ${redact(describeError(toError(thrown)))}`, { cause: thrown });
  }
}

/**
 * The JSON body of a response, read whole (status documents are small). A body that is not JSON
 * becomes `undefined` so callers can report the status instead of a parse error.
 */
export async function readJson(response: Response, maxBytes = 1024 * 1024): Promise<unknown> {
  const text = await readCapped(response, maxBytes);
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** Whether a response declares a JSON body (vendors answer errors as JSON even on file endpoints). */
export function isJson(response: Response): boolean {
  return /\bjson\b/i.test(response.headers.get('content-type') ?? '');
}

/** The rest of a response body is not needed: release the connection for reuse. */
export async function discard(response: Response): Promise<void> {
  await response.body?.cancel().catch(() => undefined);
}

/**
 * A field of a vendor's JSON answer as text for a message or a code: a string as is, a number or
 * boolean written out, absent or null as '', anything else as its JSON. `String(value)` is not
 * safe on parsed JSON: an object owning a `toString` key that is not a function
 * (`{"message": {"toString": 1}}`) makes it throw a TypeError.
 */
export function vendorText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (value === null || value === undefined) return '';
  try {
    return JSON.stringify(value) ?? '';
  } catch {
    return '';
  }
}

/** A short, redacted excerpt of a vendor's error text for a message. */
export function excerpt(text: string, redact: (text: string) => string = (t) => t): string {
  const trimmed = redact(text).replace(/\s+/g, ' ').trim();
  return trimmed.length > ERROR_TEXT_CHARS ? `${trimmed.slice(0, ERROR_TEXT_CHARS)}…` : trimmed;
}
