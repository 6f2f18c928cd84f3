/**
 * The HTTP side of the webhook manager: one POST per batch (whole when small, streamed when
 * large, over node:http: see http-post.ts), and the mapping from HTTP
 * outcomes to the router's typed errors. Nothing here logs or quotes header values.
 */
import type { CallContext, JsonObject, UploadBatch } from '../../src/manager/contract.ts';
import { ConfigError, PermanentError, RetryableError, describeError, toError } from '../../src/manager/errors.ts';
import { describeTarget, parseRetryAfter, secretRedactor } from '../_http/http.ts';
import { ERROR_TEXT_CHARS } from '../_http/request.ts';
import { ERROR_CODES } from '../../src/manager/error-codes.ts';
import { post, PostFailure, type PostAnswer } from './http-post.ts';
import { retryCodeForStatus } from '../_http/answer.ts';
import type { WebhookConfig, WebhookFormat } from './config.ts';

// Kept importable from here: the webhook's tests and older callers use it.
export { parseRetryAfter };

/** Names the payload shape rather than the package version, which receivers should not care about. */
export const USER_AGENT = 'batch-router-webhook/1';

/** Rows are gathered into chunks of about this many characters: one chunk per row is too chatty. */
const CHUNK_CHARS = 64 * 1024;
/**
 * A batch whose rows total at most this many bytes is sent as one body with a Content-Length;
 * a larger one is streamed from staging (chunked). Small batches are the webhook's default (500
 * events of a few hundred bytes), and a streamed body costs a web stream and a chunk per pull
 * on every one of them.
 */
export const WHOLE_BODY_MAX_BYTES = 256 * 1024;
/** Statuses below 500 that still mean "try again": timeout, idempotency conflict, too early, rate limit. */
const RETRYABLE_4XX = new Set([408, 409, 425, 429]);

/**
 * POSTs every row of `batch` in one request. Resolves when the receiver answered 2xx; otherwise
 * throws `RetryableError` (429, 5xx, 408/409/425, timeouts, network), `ConfigError` (redirects)
 * or `PermanentError` (other 4xx).
 */
export async function postBatch(batch: UploadBatch<JsonObject>, ctx: CallContext<WebhookConfig>): Promise<void> {
  const { config } = ctx;
  const target = describeTarget(config.url);
  const redact = secretRedactor(Object.values(config.headers));

  const headers: Record<string, string> = { 'user-agent': USER_AGENT };
  for (const [name, value] of Object.entries(config.headers)) headers[name.toLowerCase()] = value;
  headers['content-type'] = config.format === 'json' ? 'application/json' : 'application/x-ndjson';
  // Same on every retry of this upload, so a receiver that dedupes can drop the repeat.
  headers['idempotency-key'] = `${batch.destinationId}:${batch.uploadId}`;

  let answer: PostAnswer;
  try {
    answer = await post(config.url, {
      headers,
      body: batch.bytes <= WHOLE_BODY_MAX_BYTES ? await wholeBody(batch, config.format) : bodyChunks(batch, config.format),
      signal: ctx.signal,
      timeoutMs: config.timeoutMs,
      // Reading the body (even a 2xx one) lets the keep-alive connection be reused.
      maxBodyBytes: (status) => (status < 300 ? 64 * 1024 : 4 * ERROR_TEXT_CHARS),
    });
  } catch (thrown) {
    throw noAnswer(thrown, target, config.timeoutMs, redact);
  }
  const { status } = answer;
  // A 2xx is a delivery even if its body then fails to arrive: retrying it would only duplicate the batch.
  if (answer.bodyError && status >= 300) {
    throw new RetryableError(`webhook ${target} answered ${status} but the body did not arrive: ${redact(describeError(answer.bodyError))}`, {
      cause: answer.bodyError,
    });
  }
  const text = redact(answer.body);
  const retryAfter = answer.header('retry-after');
  const location = answer.header('location');

  if (status >= 200 && status < 300) return;
  const detail = text.trim().slice(0, ERROR_TEXT_CHARS);
  const answered = `webhook ${target} answered ${status}${detail ? `: ${detail}` : ''}`;
  if (status === 429 || status >= 500 || RETRYABLE_4XX.has(status)) {
    throw new RetryableError(answered, { retryAfterMs: parseRetryAfter(retryAfter), code: retryCodeForStatus(status), vendorCode: String(status) });
  }
  if (status >= 300 && status < 400) {
    const to = location && URL.canParse(location, config.url) ? ` to ${describeTarget(new URL(location, config.url).href)}` : '';
    throw new ConfigError(`webhook ${target} redirects (${status})${to}; set "url" to the final address`, { field: 'url' });
  }
  const hint = status === 401 || status === 403 ? ' (check the credentials in "headers")' : '';
  throw new PermanentError(`${answered}${hint}`, { vendorCode: String(status) });
}

/**
 * The body of a small batch, whole: `bodyChunks` joined, as bytes. Given a string, Node's HTTP
 * client encodes it once to count its Content-Length and again, with the headers prepended, to
 * write it; the bytes are encoded once and written as they are.
 */
async function wholeBody(batch: UploadBatch<JsonObject>, format: WebhookFormat): Promise<Buffer> {
  let body = '';
  for await (const chunk of bodyChunks(batch, format)) body += chunk;
  return Buffer.from(body);
}

/** The body in chunks pulled from the staging file, so a large batch never sits in memory whole. */
async function* bodyChunks(batch: UploadBatch<JsonObject>, format: WebhookFormat): AsyncGenerator<string> {
  let chunk = format === 'json' ? '{"events":[' : '';
  let count = 0;
  for await (const row of batch.rows()) {
    chunk += format === 'json' ? (count === 0 ? row.json : `,${row.json}`) : `${row.json}\n`;
    count += 1;
    if (chunk.length >= CHUNK_CHARS) {
      yield chunk;
      chunk = '';
    }
  }
  yield format === 'json' ? `${chunk}]}` : chunk;
}

/** Getting no answer at all, as the router's typed error (always worth retrying). */
function noAnswer(thrown: unknown, target: string, timeoutMs: number, redact: (text: string) => string): RetryableError {
  const reason = thrown instanceof PostFailure ? thrown.reason : 'network';
  const cause = thrown instanceof PostFailure ? thrown.cause : thrown;
  if (reason === 'cancelled') {
    return new RetryableError(`webhook POST to ${target} was cancelled (shutdown or call deadline)`, { cause, code: ERROR_CODES.timeout });
  }
  if (reason === 'timeout') {
    return new RetryableError(`webhook POST: ${target} did not answer within ${timeoutMs} ms; raise "timeoutMs" if the receiver is slow`, {
      cause,
      code: ERROR_CODES.timeout,
    });
  }
  return new RetryableError(`webhook POST to ${target} failed: ${redact(describeError(toError(cause)))}`, { cause });
}
