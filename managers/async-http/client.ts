/**
 * HTTP calls of the async-operations protocol: submitting a chunk of operations and reading one
 * operation's status, with the mapping from HTTP answers to the router's typed errors. Header
 * values (credentials) are never logged or quoted; anything the service echoes is redacted.
 */
import { createHash } from 'node:crypto';
import type { CallContext, JsonObject, StagedRow } from '../../src/manager/contract.ts';
import { ConfigError, PermanentError, RetryableError } from '../../src/manager/errors.ts';
import { isRetryableStatus, readAnswer, retryCodeForStatus, type Answer } from '../_http/answer.ts';
import type { ChunkResult } from '../_http/chunks.ts';
import { secretRedactor } from '../_http/http.ts';
import { excerpt, send } from '../_http/request.ts';
import type { AsyncHttpConfig } from './config.ts';
import { acceptedIds, outcomesOfResults, resultItems } from './protocol.ts';

export const USER_AGENT = 'batch-router-async-http/1';

/** Persisted per import: which operation(s) to poll. Jobs carry the rest as correlation keys. */
export type OperationsHandle =
  /** One id per item; each job's correlation key is its operation id. */
  | { mode: 'items'; operationIds: string[] }
  /** One id for the whole request; each job's correlation key is its index in the request. */
  | { mode: 'batch'; operationId: string; count: number };

/** POSTs one chunk to {baseUrl}/operations/batch and reads the answer as outcomes or an import. */
export async function submitOperations(
  rows: readonly StagedRow<JsonObject>[],
  request: { uploadId: string },
  ctx: CallContext<AsyncHttpConfig>,
): Promise<ChunkResult> {
  const operations = rows.map(({ row }) => JSON.stringify(row)).join(',');
  const callback = ctx.config.callbackUrl === undefined ? '' : `,"callbackUrl":${JSON.stringify(ctx.config.callbackUrl)}`;
  const answer = await call(ctx, 'POST', '/operations/batch', {
    body: `{"operations":[${operations}]${callback}}`,
    idempotencyKey: idempotencyKeyOf(ctx.destinationId, request.uploadId, rows),
  });
  const what = `submitting ${rows.length} operations`;
  if (answer.status === 200) {
    const items = resultItems(answer.json);
    if (!items) throw new PermanentError(`${describe(answer, what)}; a 200 must carry a per-item result array ("results")`);
    if (items.length !== rows.length) ctx.log.warn({ results: items.length, operations: rows.length }, 'async-http service answered with another number of results than operations');
    const outcomes = outcomesOfResults(rows.map((r) => r.jobId), items, 'the synchronous answer', (i) => `operation ${i + 1} of ${rows.length}`);
    return { outcomes, imports: [] };
  }
  if (answer.status === 202) {
    const ids = acceptedIds(answer.json);
    // Not re-sent on a malformed 202: the service accepted the work, and a retry could do it twice.
    if (!ids) throw new PermanentError(`${describe(answer, what)}; a 202 must carry "operation_ids"`);
    if (ids.length === rows.length) {
      const handle: OperationsHandle = { mode: 'items', operationIds: ids };
      return { outcomes: [], imports: [{ handle, jobs: rows.map(({ jobId }, i) => ({ jobId, correlationKey: ids[i]! })) }] };
    }
    if (ids.length === 1) {
      const handle: OperationsHandle = { mode: 'batch', operationId: ids[0]!, count: rows.length };
      return { outcomes: [], imports: [{ handle, jobs: rows.map(({ jobId }, i) => ({ jobId, correlationKey: String(i) })) }] };
    }
    throw new PermanentError(`${describe(answer, what)} with ${ids.length} operation ids for ${rows.length} operations; the protocol allows one per operation or one for the batch`);
  }
  throw failure(answer, what, 'POST /operations/batch');
}

/**
 * `<destination>:<upload>:<first job id>+<job count>:<hash of the job ids>`. It names the chunk's
 * content, not its position: a re-sent upload that is chunked differently (another
 * maxOperationsPerRequest, some jobs already final) must not reuse a key for other operations,
 * which a service would answer with the first request's result or refuse; the same jobs always
 * carry the same key, so a service that stores keys drops a repeat.
 */
export function idempotencyKeyOf(destinationId: string, uploadId: string, rows: readonly { jobId: string }[]): string {
  const ids = rows.map((r) => r.jobId);
  const digest = createHash('sha256').update(ids.join(',')).digest('hex').slice(0, 16);
  return `${destinationId}:${uploadId}:${ids[0] ?? ''}+${ids.length}:${digest}`;
}

/** GET {baseUrl}/operations/{id}: the status document, or `undefined` when the service has no such operation. */
export async function readOperation(id: string, ctx: CallContext<AsyncHttpConfig>): Promise<unknown> {
  const answer = await call(ctx, 'GET', `/operations/${encodeURIComponent(id)}`);
  if (answer.status === 404) return undefined;
  if (answer.status !== 200) throw failure(answer, `reading operation ${id}`, 'GET /operations/{id}');
  return answer.json;
}

async function call(
  ctx: CallContext<AsyncHttpConfig>,
  method: 'GET' | 'POST',
  path: string,
  options: { body?: string; idempotencyKey?: string } = {},
): Promise<Answer> {
  const { config } = ctx;
  const headers = new Headers({ 'user-agent': USER_AGENT });
  for (const [name, value] of Object.entries(config.headers)) headers.set(name, value);
  headers.set('accept', 'application/json');
  if (options.body !== undefined) headers.set('content-type', 'application/json');
  if (options.idempotencyKey !== undefined) headers.set('idempotency-key', options.idempotencyKey);
  const redact = secretRedactor(Object.values(config.headers));
  const response = await send({
    label: `async-http ${method}`,
    url: `${config.baseUrl}${path}`,
    init: { method, headers, ...(options.body !== undefined ? { body: options.body } : {}) },
    signal: ctx.signal,
    timeoutMs: config.timeoutMs,
    timeoutHint: '; raise "timeoutMs" if the service is slow',
    redact,
  });
  return readAnswer(response, redact);
}

/** The typed error for an answer outside the protocol's success cases. */
function failure(answer: Answer, what: string, endpoint: string): Error {
  const message = describe(answer, what);
  if (isRetryableStatus(answer.status)) {
    return new RetryableError(message, { retryAfterMs: answer.retryAfterMs, code: retryCodeForStatus(answer.status), vendorCode: String(answer.status) });
  }
  if (answer.status === 401 || answer.status === 403) return new ConfigError(`${message}; check the credentials in "headers"`, { field: 'headers' });
  if (answer.status >= 300 && answer.status < 400) return new ConfigError(`${message} (a redirect); set "baseUrl" to the final address`, { field: 'baseUrl' });
  if (answer.status === 404 || answer.status === 405) return new ConfigError(`${message}; is "baseUrl" the root that serves ${endpoint}?`, { field: 'baseUrl' });
  return new PermanentError(message, { vendorCode: String(answer.status) });
}

function describe(answer: Answer, what: string): string {
  const detail = excerpt(answer.text);
  return `async-http service answered ${answer.status} to ${what}${detail ? `: ${detail}` : ''}`;
}
