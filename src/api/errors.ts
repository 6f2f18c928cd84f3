/**
 * Error responses. Every error the API sends is `{ error, message, field?, requestId }` with a 4xx
 * status that says what the caller can fix; a 5xx says only that it was our fault and which
 * request id to look up in the log. No stack trace, SQL text or secret ever reaches a response:
 * unexpected errors are logged and replaced.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { randomBytes } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { DATE_TIME_MESSAGE } from './validation.ts';

/** An error meant for the caller as is. */
export class ApiError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly field?: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export const notFound = (what: string) => new ApiError(404, 'not_found', `${what} not found`);

/** JSON-pointer-ish path from ajv (`/events/3/name`) to the caller's notation (`events[3].name`). */
export function fieldName(instancePath: string, missing?: string): string {
  const parts = instancePath.split('/').filter((p) => p !== '');
  if (missing) parts.push(missing);
  return parts.reduce((out, part) => (/^\d+$/.test(part) ? `${out}[${part}]` : out ? `${out}.${part}` : part), '');
}

interface ValidationIssue {
  keyword?: string;
  instancePath: string;
  message?: string;
  params: Record<string, unknown>;
}

function describeValidation(error: FastifyError): { message: string; field: string } {
  const issue = (error.validation?.[0] ?? { instancePath: '', params: {} }) as ValidationIssue;
  const context = error.validationContext ?? 'body';
  const missing = typeof issue.params.missingProperty === 'string' ? issue.params.missingProperty : undefined;
  const extra = typeof issue.params.additionalProperty === 'string' ? issue.params.additionalProperty : undefined;
  const field = fieldName(issue.instancePath, missing ?? extra) || context;
  const detail = issue.keyword === 'format' && issue.params.format === 'date-time' ? DATE_TIME_MESSAGE : issue.message;
  let message = `${context} field "${field}" ${detail ?? 'is invalid'}`;
  if (missing) message = `${context} field "${field}" is required`;
  if (extra) message = `${context} field "${field}" is not allowed`;
  if (Array.isArray(issue.params.allowedValues)) message += `: ${issue.params.allowedValues.join(', ')}`;
  return { message, field };
}

/** Fastify's own errors (body parsing, limits) mapped to statuses and plain messages. */
function fromFastify(error: FastifyError, limit: number): ApiError | undefined {
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new ApiError(413, 'payload_too_large', `request body is larger than the limit of ${limit} bytes; send fewer events per request`);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new ApiError(415, 'unsupported_media_type', 'send the body as application/json');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new ApiError(400, 'invalid_json', 'request body is empty; send a JSON object', 'body');
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new ApiError(400, 'invalid_request', 'Content-Length does not match the body');
  }
  // secure-json-parse says "forbidden prototype property" for both keys; checked before the
  // generic SyntaxError so the caller learns that the key, not the syntax, is the problem.
  if (/forbidden prototype property|__proto__|constructor/.test(error.message)) {
    return new ApiError(400, 'invalid_json', 'request body contains a "__proto__" key, or a "constructor" key holding "prototype", '
      + 'which is refused because it could alter object prototypes; rename the key', 'body');
  }
  if (error instanceof SyntaxError || error.code === 'FST_ERR_CTP_INVALID_JSON_BODY') {
    return new ApiError(400, 'invalid_json', `request body is not valid JSON: ${error.message}`, 'body');
  }
  return undefined;
}

// After a 401 or 413 the rest of the request is not wanted: closing the connection stops a client
// (or an attacker) from holding it open by trickling a body nobody will read.
const CLOSE_AFTER = new Set([401, 413]);

export function send(reply: FastifyReply, request: FastifyRequest, error: ApiError): FastifyReply {
  for (const [name, value] of Object.entries(error.headers)) reply.header(name, value);
  if (CLOSE_AFTER.has(error.statusCode)) reply.header('Connection', 'close');
  return reply.code(error.statusCode).type('application/json').send({
    error: error.code,
    message: error.message,
    ...(error.field ? { field: error.field } : {}),
    requestId: request.id,
  });
}

export function installErrorHandlers(app: FastifyInstance, bodyLimit: number): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error instanceof ApiError) return send(reply, request, error);
    if (error.validation) {
      const { message, field } = describeValidation(error);
      return send(reply, request, new ApiError(400, 'invalid_request', message, field));
    }
    const known = fromFastify(error, bodyLimit);
    if (known) return send(reply, request, known);
    if (typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500) {
      return send(reply, request, new ApiError(error.statusCode, 'invalid_request', error.message));
    }
    request.log.error({ err: error }, 'request failed');
    return send(reply, request, new ApiError(500, 'internal', `internal error; the server log has the details under request id ${request.id}`));
  });
  app.setNotFoundHandler((request, reply) =>
    send(reply, request, new ApiError(404, 'not_found', `no route ${request.method} ${request.url.split('?')[0]!.slice(0, 200)}; see /openapi.json`)));
}

/**
 * Errors fastify raises before a route runs (path not percent-decodable, a path parameter over
 * `maxParamLength`), in the API's shape. The path is never echoed: it is the caller's own text and
 * may be huge.
 */
export function frameworkError(error: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  if (error.code === 'FST_ERR_MAX_PARAM_LENGTH') {
    return send(reply, request, new ApiError(414, 'uri_too_long', 'a path segment of the URL is too long for any resource id; check the URL'));
  }
  if (error.code === 'FST_ERR_BAD_URL') {
    return send(reply, request, new ApiError(400, 'invalid_url', 'the URL path is not valid percent-encoding (a "%" must be followed by two hex digits); encode it correctly'));
  }
  return send(reply, request, new ApiError(400, 'invalid_request', 'the request could not be routed; check the URL'));
}

/**
 * Errors Node's HTTP parser raises before fastify sees a request (headers too large, malformed
 * HTTP such as bytes past a short Content-Length, request deadline missed): answered in the API's
 * shape with a fresh request id, which the debug log records, and the connection closed.
 */
export function clientErrorHandler(log: FastifyInstance['log'], requestTimeoutMs: number) {
  return (error: NodeJS.ErrnoException, socket: Socket): void => {
    if (error.code === 'ECONNRESET' || socket.destroyed) return;
    let status = 400;
    let answer = { error: 'invalid_http', message: `the request is not valid HTTP/1.1 (${error.code ?? 'parse error'}); check the client` };
    if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
      status = 408;
      answer = { error: 'request_timeout', message: `the request was not received completely within ${requestTimeoutMs} ms; send it faster or in smaller parts` };
    } else if (error.code === 'HPE_HEADER_OVERFLOW') {
      status = 431;
      answer = { error: 'headers_too_large', message: 'the request line and headers are larger than the server accepts; shorten the URL or the headers' };
    }
    const requestId = `conn-${randomBytes(6).toString('hex')}`;
    log.debug({ err: error, requestId, status }, 'client error before routing');
    // A response already under way (a 401 sent before the body arrived, say) must not get a
    // second status line in the middle of it: then the connection is only closed.
    const inFlight = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
    if (socket.writable && !inFlight?.headersSent) {
      const body = JSON.stringify({ ...answer, requestId });
      socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
    }
    socket.destroy();
  };
}
