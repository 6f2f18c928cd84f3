/**
 * What an operator looks at and does on one destination beyond its summary: its aborted jobs
 * grouped by reason (what needs fixing in the data), its recent uploads with their imports, and the
 * bulk cancel of its waiting jobs. Also `GET /v1/me`, so a client (the dashboard) can offer only the
 * actions the key may take; the server still enforces every scope on the action itself.
 */
import type { FastifyInstance } from 'fastify';
import { abortedByReason, recentUploads } from '../../store/dashboard.reporting.ts';
import { cancelJobs } from '../../store/jobs.maintenance.ts';
import { visibleDestination, type ApiContext } from '../context.ts';
import { errorResponses } from '../schemas.ts';
import { uploadView } from './uploads.ts';

type IdParams = { Params: { id: string } };
const params = { type: 'object', properties: { id: { type: 'string', maxLength: 128 } }, required: ['id'] } as const;
const limit = (max: number, fallback: number) => ({ type: 'object', additionalProperties: false, properties: { limit: { type: 'integer', minimum: 1, maximum: max, default: fallback } } }) as const;

export function registerDestinationDetailRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get<IdParams & { Querystring: { limit: number } }>('/v1/destinations/:id/failures', {
    config: { scope: 'jobs:read' },
    schema: {
      summary: 'Aborted jobs of a destination grouped by reason', tags: ['destinations'], params, querystring: limit(200, 50),
      description: 'Largest group first. Retry one group with `POST /v1/destinations/{id}/retry` and its reason as `reasonContains`.',
      response: {
        200: {
          type: 'object', required: ['failures'],
          properties: {
            failures: {
              type: 'array',
              items: {
                type: 'object', required: ['reason', 'errorCode', 'count', 'lastAt'],
                properties: {
                  reason: { type: 'string', description: 'The human-readable reason the jobs were aborted.' },
                  errorCode: { type: ['string', 'null'], description: 'Stable code of the failure.' },
                  count: { type: 'integer', minimum: 1 },
                  lastAt: { type: ['string', 'null'], format: 'date-time', description: 'When the latest of them was aborted.' },
                },
              },
            },
          },
        },
        ...errorResponses(401, 403, 404),
      },
    },
  }, async (request) => {
    const destination = visibleDestination(ctx, request.principal, request.params.id);
    const groups = await abortedByReason(ctx.db, destination.id, request.query.limit);
    return { failures: groups.map((g) => ({ ...g, lastAt: g.lastAt ? g.lastAt.toISOString() : null })) };
  });

  app.get<IdParams & { Querystring: { limit: number } }>('/v1/destinations/:id/uploads', {
    config: { scope: 'jobs:read' },
    schema: {
      summary: 'Recent uploads of a destination with their imports', tags: ['destinations'], params, querystring: limit(100, 20),
      response: { 200: { type: 'object', required: ['uploads'], properties: { uploads: { type: 'array', items: { $ref: 'Upload#' } } } }, ...errorResponses(401, 403, 404) },
    },
  }, async (request) => {
    const destination = visibleDestination(ctx, request.principal, request.params.id);
    const rows = await recentUploads(ctx.db, destination.id, request.query.limit);
    return { uploads: await Promise.all(rows.map((row) => uploadView(ctx.db, row))) };
  });

  app.post<IdParams>('/v1/destinations/:id/cancel', {
    config: { scope: 'jobs:write' },
    schema: {
      summary: 'Cancel every waiting job of a destination', tags: ['destinations'], params,
      description: 'Jobs already being uploaded or imported finish on their own and are not touched.',
      response: {
        200: { type: 'object', properties: { cancelled: { type: 'integer' }, jobIds: { type: 'array', items: { type: 'string' }, description: 'The first 1,000.' } } },
        ...errorResponses(401, 403, 404),
      },
    },
  }, async (request) => {
    const destination = visibleDestination(ctx, request.principal, request.params.id);
    const ids = await cancelJobs(ctx.db, { destinationId: destination.id }, `cancelled through the API by ${request.principal.name}`);
    return { cancelled: ids.length, jobIds: ids.slice(0, 1000) };
  });

  app.get('/v1/me', {
    // Any valid key may ask what it may do.
    schema: {
      summary: 'The calling key: its name, scopes and visible destinations', tags: ['system'],
      response: {
        200: {
          type: 'object', required: ['name', 'scopes', 'destinations', 'keyRequired'],
          properties: {
            name: { type: 'string' },
            scopes: { type: 'array', items: { type: 'string' } },
            destinations: { type: ['array', 'null'], items: { type: 'string' }, description: 'null: every destination.' },
            keyRequired: { type: 'boolean', description: 'False when the API runs without keys (loopback only).' },
          },
        },
        ...errorResponses(401),
      },
    },
  }, async (request) => {
    const p = request.principal;
    return { name: p.name, scopes: [...p.scopes], destinations: p.destinations ? [...p.destinations] : null, keyRequired: p.keyId !== null };
  });
}
