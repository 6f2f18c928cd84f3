/**
 * Operational routes: liveness, readiness (database reachable and every migration applied),
 * Prometheus metrics (admin scope: they name every destination), and the OpenAPI document.
 */
import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import { migrationStatus } from '../../db/migrate.ts';
import type { ApiContext } from '../context.ts';
import type { ApiMetrics } from '../metrics.ts';
import { errorResponses } from '../schemas.ts';

const status = { type: 'object', properties: { status: { type: 'string' }, problem: { type: 'string' } }, required: ['status'] } as const;

export function registerSystemRoutes(app: FastifyInstance, ctx: ApiContext, metrics: ApiMetrics): void {
  app.get('/healthz', {
    config: { scope: 'public' },
    schema: { summary: 'The process is up', tags: ['system'], security: [], response: { 200: status } },
  }, async () => ({ status: 'ok' }));

  // Migrations never un-apply, so once they are all in place there is no need to look again.
  let migrated = false;
  app.get('/readyz', {
    config: { scope: 'public' },
    schema: { summary: 'Database reachable and migrated', tags: ['system'], security: [], response: { 200: status, 503: status } },
  }, async (_request, reply) => {
    try {
      await sql`SELECT 1`.execute(ctx.db);
      if (!migrated) {
        const pending = (await migrationStatus(ctx.db)).filter((m) => !m.executedAt).map((m) => m.name);
        if (pending.length > 0) return reply.code(503).send({ status: 'not ready', problem: `pending migrations: ${pending.join(', ')}` });
        migrated = true;
      }
      return { status: 'ready' };
    } catch (error) {
      ctx.log.warn({ err: error }, 'readiness check failed');
      return reply.code(503).send({ status: 'not ready', problem: 'the database is not reachable' });
    }
  });

  app.get('/metrics', {
    config: { scope: 'admin' },
    schema: {
      summary: 'Prometheus metrics', tags: ['system'], produces: ['text/plain'],
      response: { 200: { description: 'Prometheus text format', content: { 'text/plain': { schema: { type: 'string' } } } }, ...errorResponses(401, 403) },
    },
  }, async (_request, reply) => {
    await metrics.refresh(ctx.db);
    return reply.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });

  app.get('/openapi.json', { config: { scope: 'public' }, schema: { hide: true } }, async () => app.swagger());
}
