/**
 * Error responses. Every error the API sends is `{ error, message, field?, requestId }` with a 4xx
 * status that says what the caller can fix; a 5xx says only that it was our fault and which
 * request id to look up in the log. No stack trace, SQL text or secret ever reaches a response:
 * unexpected errors are logged and replaced.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

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
  let message = `${context} field "${field}" ${issue.message ?? 'is invalid'}`;
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
  if (error instanceof SyntaxError || error.code === 'FST_ERR_CTP_INVALID_JSON_BODY') {
    return new ApiError(400, 'invalid_json', `request body is not valid JSON: ${error.message}`, 'body');
  }
  if (error.statusCode === 400 && /__proto__|constructor/.test(error.message)) {
    return new ApiError(400, 'invalid_json', 'request body uses a forbidden key (__proto__ or constructor.prototype)', 'body');
  }
  return undefined;
}

export function send(reply: FastifyReply, request: FastifyRequest, error: ApiError): FastifyReply {
  for (const [name, value] of Object.entries(error.headers)) reply.header(name, value);
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
