/**
 * The HTTP side of the webhook manager: one streamed POST per batch, and the mapping from HTTP
 * outcomes to the router's typed errors. Nothing here logs or quotes header values.
 */
import type { CallContext, JsonObject, StagedRow, UploadBatch } from '../../src/manager/contract.ts';
import { ConfigError, PermanentError, RetryableError, describeError, toError } from '../../src/manager/errors.ts';
import { describeTarget, parseRetryAfter, readCapped, secretRedactor } from '../_http/http.ts';
import { ERROR_TEXT_CHARS, send } from '../_http/request.ts';
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

  const headers = new Headers({ 'user-agent': USER_AGENT });
  for (const [name, value] of Object.entries(config.headers)) headers.set(name, value);
  headers.set('content-type', config.format === 'json' ? 'application/json' : 'application/x-ndjson');
  // Same on every retry of this upload, so a receiver that dedupes can drop the repeat.
  headers.set('idempotency-key', `${batch.destinationId}:${batch.uploadId}`);

  // `duplex` is required for a stream body but missing from Node 20's RequestInit typing.
  // A streamed body cannot be replayed to a redirect target, so `send` reports redirects instead.
  const body = batch.bytes <= WHOLE_BODY_MAX_BYTES ? await wholeBody(batch, config.format) : bodyStream(batch, config.format);
  const init: RequestInit & { duplex: 'half' } = { method: 'POST', headers, body, duplex: 'half' };
  const response = await send({
    label: 'webhook POST',
    url: config.url,
    init,
    signal: ctx.signal,
    timeoutMs: config.timeoutMs,
    timeoutHint: '; raise "timeoutMs" if the receiver is slow',
    redact,
  });
  const { status } = response;
  const retryAfter = response.headers.get('retry-after');
  const location = response.headers.get('location');
  let text: string;
  try {
    // Reading the body (even a 2xx one) lets the keep-alive connection be reused. A 2xx is a
    // delivery even if its body then fails to arrive: retrying it would only duplicate the batch.
    const body = readCapped(response, status < 300 ? 64 * 1024 : 4 * ERROR_TEXT_CHARS);
    text = redact(status < 300 ? await body.catch(() => '') : await body);
  } catch (thrown) {
    throw new RetryableError(`webhook ${target} answered ${status} but the body did not arrive: ${redact(describeError(toError(thrown)))}`, {
      cause: thrown,
    });
  }

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

/** The body of a small batch, whole: the same bytes `bodyStream` would send. */
async function wholeBody(batch: UploadBatch<JsonObject>, format: WebhookFormat): Promise<string> {
  const rows: string[] = [];
  for await (const row of batch.rows()) rows.push(row.json);
  return format === 'json' ? `{"events":[${rows.join(',')}]}` : rows.map((json) => `${json}\n`).join('');
}

/** The body as a stream pulled from the staging file, so a large batch never sits in memory whole. */
function bodyStream(batch: UploadBatch<JsonObject>, format: WebhookFormat): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  let rows: AsyncIterator<StagedRow<JsonObject>> | undefined;
  let count = 0;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      rows ??= batch.rows()[Symbol.asyncIterator]();
      let chunk = format === 'json' && count === 0 ? '{"events":[' : '';
      while (chunk.length < CHUNK_CHARS) {
        const next = await rows.next();
        if (next.done) {
          if (format === 'json') chunk += ']}';
          controller.enqueue(encoder.encode(chunk));
          controller.close();
          return;
        }
        const json = next.value.json;
        chunk += format === 'json' ? (count === 0 ? json : `,${json}`) : `${json}\n`;
        count += 1;
      }
      controller.enqueue(encoder.encode(chunk));
    },
    async cancel() {
      await rows?.return?.(); // closes the staging file when fetch gives up
    },
  });
}
