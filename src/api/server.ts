/**
 * Builds the fastify application: validation (two ajv instances: bodies are validated strictly,
 * with no type coercion, so `"events": "x"` is a 400 rather than a guess; query strings and
 * path parameters are coerced, since they only ever arrive as text), error handling, auth, the
 * OpenAPI generator, and every route. Listening is the caller's business (see index.ts).
 */
import swagger from '@fastify/swagger';
import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { installAuth, type RateLimiter } from './auth.ts';
import type { CallbackPolicy } from './callbacks/allow-list.ts';
import type { ApiContext } from './context.ts';
import { installErrorHandlers } from './errors.ts';
import type { ApiMetrics } from './metrics.ts';
import { registerDestinationRoutes } from './routes/destinations.ts';
import { registerEventRoutes } from './routes/events.ts';
import { registerJobRoutes } from './routes/jobs.ts';
import { registerSubmissionRoutes } from './routes/submissions.ts';
import { registerSystemRoutes } from './routes/system.ts';
import { registerUploadRoutes } from './routes/uploads.ts';
import { registerSchemas } from './schemas.ts';

// ajv-formats is CommonJS with a default export; under NodeNext it arrives wrapped.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (ajv: Ajv) => Ajv;

function validators(): { body: Ajv; other: Ajv } {
  const common = { allErrors: false, useDefaults: true, removeAdditional: false, strict: false } as const;
  const body = new Ajv({ ...common, coerceTypes: false });
  const other = new Ajv({ ...common, coerceTypes: true });
  addFormats(body);
  addFormats(other);
  return { body, other };
}

export interface ServerParts {
  policy: CallbackPolicy;
  metrics: ApiMetrics;
  limiter: RateLimiter;
  startedWithKeys: boolean;
}

export async function buildApiServer(ctx: ApiContext, parts: ServerParts): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: ctx.log.child({ component: 'api' }) as FastifyBaseLogger,
    // One line per request at info would drown the daemon's log under load; see onResponse below.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: ctx.config.apiBodyLimitBytes,
    // The default parser already refuses __proto__; also refuse constructor.prototype tricks.
    onConstructorPoisoning: 'error',
  });
  // The API speaks JSON only: a text/plain body is a client mistake (415), not a string to validate.
  app.removeContentTypeParser('text/plain');
  const ajv = validators();
  app.setValidatorCompiler(({ schema, httpPart }) => (httpPart === 'body' ? ajv.body : ajv.other).compile(schema));
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
  registerSystemRoutes(app, ctx, parts.metrics);
  await app.ready();
  return app;
}
