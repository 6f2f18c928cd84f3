/**
 * Destination resources: configuration status, health (this process's worker loop, the latest
 * vendor error, open imports), backlog by state and recent throughput; and the bulk retry of a
 * destination's aborted jobs.
 */
import type { FastifyInstance } from 'fastify';
import { countOpenImports } from '../../store/imports.repository.ts';
import { requeueAborted } from '../../store/jobs.maintenance.ts';
import { destinationActivity } from '../../store/jobs.reporting.ts';
import { countUploadsInFlight, deliveredPerMinute } from '../../store/dashboard.reporting.ts';
import { latestVendorError, typicalUploadSeconds } from '../../store/uploads.reporting.ts';
import type { Destination } from '../../destinations.ts';
import { canSee } from '../auth.ts';
import { visibleDestination, type ApiContext } from '../context.ts';
import { errorResponses } from '../schemas.ts';
import { withTotal } from '../views.ts';

const WINDOW_MINUTES = 5;
const params = { type: 'object', properties: { id: { type: 'string', maxLength: 128 } }, required: ['id'] } as const;
const iso = (d: Date | null | undefined) => (d ? d.toISOString() : null);
const perMinute = (n: number) => Math.round((n / WINDOW_MINUTES) * 100) / 100;

async function destinationView(ctx: ApiContext, d: Destination): Promise<Record<string, unknown>> {
  const [activity, lastError, openImports, uploadsInFlight, delivered, medianUploadSeconds] = await Promise.all([
    destinationActivity(ctx.db, d.id, WINDOW_MINUTES * 60_000),
    latestVendorError(ctx.db, d.id),
    countOpenImports(ctx.db, d.id),
    countUploadsInFlight(ctx.db, d.id),
    deliveredPerMinute(ctx.db, d.id),
    typicalUploadSeconds(ctx.db, d.id),
  ]);
  const loop = ctx.router?.status().find((s) => s.name === `router:${d.id}`);
  return {
    id: d.id,
    manager: d.managerName,
    enabled: d.enabled,
    status: !d.valid ? 'invalid' : d.enabled ? 'ready' : 'disabled',
    // The config error is already scrubbed of secrets (destinations.ts), and tells the operator what to fix.
    ...(d.error ? { error: d.error } : {}),
    health: {
      worker: loop ? { running: loop.running, lastRunAt: iso(loop.lastRunAt), lastError: loop.lastError, consecutiveErrors: loop.consecutiveErrors } : null,
      lastError: lastError?.error ?? null,
      lastErrorAt: iso(lastError?.at),
      openImports,
      uploadsInFlight,
    },
    backlog: withTotal(activity.counts),
    oldestWaitingSeconds: activity.oldestWaitingSeconds,
    throughput: {
      windowMinutes: WINDOW_MINUTES,
      succeededPerMinute: perMinute(activity.finishedInWindow.succeeded),
      abortedPerMinute: perMinute(activity.finishedInWindow.aborted),
      cancelledPerMinute: perMinute(activity.finishedInWindow.cancelled),
    },
    deliveredPerMinute: delivered,
    medianUploadSeconds,
  };
}

export function registerDestinationRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get('/v1/destinations', {
    config: { scope: 'jobs:read' },
    schema: {
      summary: 'Destinations this key may use', tags: ['destinations'],
      response: { 200: { type: 'object', properties: { destinations: { type: 'array', items: { $ref: 'Destination#' } } } }, ...errorResponses(401, 403) },
    },
  }, async (request) => {
    const visible = ctx.destinations.filter((d) => canSee(request.principal, d.id));
    return { destinations: await Promise.all(visible.map((d) => destinationView(ctx, d))) };
  });

  app.get<{ Params: { id: string } }>('/v1/destinations/:id', {
    config: { scope: 'jobs:read' },
    schema: { summary: 'One destination', tags: ['destinations'], params, response: { 200: { $ref: 'Destination#' }, ...errorResponses(401, 403, 404) } },
  }, async (request) => destinationView(ctx, visibleDestination(ctx, request.principal, request.params.id)));

  app.post<{ Params: { id: string }; Body: { reasonContains?: string; finishedAfter?: string; finishedBefore?: string } | undefined }>(
    '/v1/destinations/:id/retry',
    {
      config: { scope: 'jobs:write' },
      schema: {
        summary: 'Requeue aborted jobs of a destination', tags: ['destinations'], params,
        description: 'Optional filters: `reasonContains` (case-insensitive), and the time the jobs were aborted.',
        body: {
          type: ['object', 'null'], additionalProperties: false,
          properties: { reasonContains: { type: 'string', minLength: 1, maxLength: 500 }, finishedAfter: { type: 'string', format: 'date-time' }, finishedBefore: { type: 'string', format: 'date-time' } },
        },
        response: {
          200: { type: 'object', properties: { requeued: { type: 'integer' }, jobIds: { type: 'array', items: { type: 'string' }, description: 'The first 1,000.' } } },
          ...errorResponses(400, 401, 403, 404),
        },
      },
    },
    async (request) => {
      const destination = visibleDestination(ctx, request.principal, request.params.id);
      const body = request.body ?? {};
      const ids = await requeueAborted(ctx.db, {
        destinationId: destination.id,
        reasonContains: body.reasonContains,
        finishedAfter: body.finishedAfter ? new Date(body.finishedAfter) : undefined,
        finishedBefore: body.finishedBefore ? new Date(body.finishedBefore) : undefined,
      });
      if (ids.length > 0) ctx.router?.nudge(destination.id);
      return { requeued: ids.length, jobIds: ids.slice(0, 1000) };
    },
  );
}
