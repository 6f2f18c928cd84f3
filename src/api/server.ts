/**
 * Builds the fastify application: validation (see validation.ts), error handling, auth, the
 * OpenAPI generator, and every route. Listening is the caller's business (see index.ts).
 */
import swagger from '@fastify/swagger';
import secureJson from 'secure-json-parse';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { installAuth, type RateLimiter } from './auth.ts';
import type { CallbackPolicy } from './callbacks/allow-list.ts';
import type { ApiContext } from './context.ts';
import { ApiError, clientErrorHandler, frameworkError, installErrorHandlers } from './errors.ts';
import type { ApiMetrics } from './metrics.ts';
import { registerDestinationDetailRoutes } from './routes/destination-details.ts';
import { registerDestinationRoutes } from './routes/destinations.ts';
import { registerEventRoutes } from './routes/events.ts';
import { registerJobRoutes } from './routes/jobs.ts';
import { registerSubmissionRoutes } from './routes/submissions.ts';
import { registerSystemRoutes } from './routes/system.ts';
import { registerUiRoutes } from './routes/ui.ts';
import { registerUploadRoutes } from './routes/uploads.ts';
import { registerSchemas } from './schemas.ts';
import { requestValidators } from './validation.ts';

export interface ServerParts {
  policy: CallbackPolicy;
  metrics: ApiMetrics;
  limiter: RateLimiter;
  startedWithKeys: boolean;
}

/**
 * JSON bodies, with `__proto__` and `constructor.prototype` keys refused. An empty body is no
 * body at all for a route that takes none or accepts null (DELETE, retry): many clients send
 * `content-type: application/json` on every request, and an action without input must not fail
 * on that. A route that needs a body still gets "request body is empty".
 */
function installJsonParser(app: FastifyInstance): void {
  // The API speaks JSON only: a text/plain body is a client mistake (415), not a string to validate.
  app.removeContentTypeParser(['application/json', 'text/plain']);
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (body === '') {
      const schema = request.routeOptions.schema?.body as { type?: string | string[] } | undefined;
      if (!schema) return done(null, undefined);
      if (Array.isArray(schema.type) && schema.type.includes('null')) return done(null, null);
      return done(new ApiError(400, 'invalid_json', 'request body is empty; send a JSON object', 'body'), undefined);
    }
    // secure-json-parse rather than fastify's wrapper, which replaces the reason (syntax error
    // or forbidden key) by a generic message; errors.ts turns the SyntaxError into a 400.
    try {
      return done(null, secureJson.parse(body as string, null, { protoAction: 'error', constructorAction: 'error' }));
    } catch (error) {
      return done(error as Error, undefined);
    }
  });
}

export async function buildApiServer(ctx: ApiContext, parts: ServerParts): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: ctx.log.child({ component: 'api' }) as FastifyBaseLogger,
    // One line per request at info would drown the daemon's log under load; see onResponse below.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: ctx.config.apiBodyLimitBytes,
    // Slow clients: a request (headers, then body) must arrive within these deadlines, and an
    // idle keep-alive connection is closed. Node checks the deadlines every
    // connectionsCheckingInterval (30 s by default), so it is set to a fraction of them.
    http: {
      headersTimeout: ctx.config.apiHeadersTimeoutMs,
      connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(ctx.config.apiHeadersTimeoutMs / 4))),
    },
    requestTimeout: ctx.config.apiRequestTimeoutMs,
    keepAliveTimeout: ctx.config.apiKeepAliveTimeoutMs,
    frameworkErrors: frameworkError,
    clientErrorHandler: clientErrorHandler(ctx.log, ctx.config.apiRequestTimeoutMs),
  });
  installJsonParser(app);
  const validators = requestValidators();
  app.setValidatorCompiler(({ schema, httpPart }) => validators.compile(schema, httpPart));
  installErrorHandlers(app, ctx.config.apiBodyLimitBytes);
  installAuth(app, ctx.keys, parts.limiter, parts.startedWithKeys);
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    parts.metrics.requests.inc({ method: request.method, route, status: String(reply.statusCode) });
    parts.metrics.requestSeconds.observe({ method: request.method, route }, reply.elapsedTime / 1000);
    request.log.debug({ method: request.method, url: request.url, status: reply.statusCode, ms: Math.round(reply.elapsedTime) }, 'request');
  });
  registerSchemas(app);
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'batch-router API',
        version: '1',
        description: 'Submit events for bulk delivery (202 Accepted), follow submissions, jobs and uploads, cancel, retry, stream progress (SSE), receive signed callbacks.',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'An API key from `batch-router keys create`.' } } },
      security: [{ bearer: [] }],
      tags: ['events', 'submissions', 'jobs', 'uploads', 'destinations', 'system'].map((name) => ({ name })),
    },
    // Components named after the schemas' $id (Job, Submission, ...) instead of def-0, def-1.
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
  });
  registerEventRoutes(app, ctx, parts.policy, parts.metrics);
  registerSubmissionRoutes(app, ctx);
  registerJobRoutes(app, ctx);
  registerUploadRoutes(app, ctx);
  registerDestinationRoutes(app, ctx);
  registerDestinationDetailRoutes(app, ctx);
  registerSystemRoutes(app, ctx, parts.metrics);
  registerUiRoutes(app);
  await app.ready();
  return app;
}
