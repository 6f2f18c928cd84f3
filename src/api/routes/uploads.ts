/**
 * Upload resources: one upload with its job counts and vendor imports, and the SSE stream of its
 * progress (terminal once the upload is finished).
 */
import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import { countStatesOfUpload } from '../../store/jobs.repository.ts';
import { importsOfUpload } from '../../store/imports.repository.ts';
import type { Database, UploadRow } from '../../db/schema.ts';
import { getUpload } from '../../store/uploads.repository.ts';
import { canSee, type Principal } from '../auth.ts';
import type { ApiContext } from '../context.ts';
import { notFound } from '../errors.ts';
import { errorResponses } from '../schemas.ts';
import { streamSnapshots } from '../sse.ts';
import { withTotal } from '../views.ts';

type IdParams = { Params: { id: string } };
const params = { type: 'object', properties: { id: { type: 'string', maxLength: 30 } }, required: ['id'] } as const;
const iso = (d: Date | null) => (d ? d.toISOString() : null);

async function visibleUpload(ctx: ApiContext, principal: Principal, id: string): Promise<UploadRow> {
  const row = await getUpload(ctx.db, id);
  if (!row || !canSee(principal, row.destination_id)) throw notFound(`upload "${id}"`);
  return row;
}

/**
 * The vendor's id from an import handle: the first top-level field named `id` or ending in `Id`
 * (klaviyoJobId, operationId, jobId) holding a short string or number. Only ids leave the handle;
 * the rest of it (file names, part layout) stays internal.
 */
function vendorIdOf(handle: unknown): string | null {
  if (!handle || typeof handle !== 'object') return null;
  for (const [key, value] of Object.entries(handle)) {
    if (!/^id$|Id$/.test(key)) continue;
    if ((typeof value === 'string' && value.length <= 200) || typeof value === 'number') return String(value);
  }
  return null;
}

export async function uploadView(db: Kysely<Database>, row: UploadRow): Promise<Record<string, unknown>> {
  const [counts, imports] = await Promise.all([countStatesOfUpload(db, row.id), importsOfUpload(db, row.id)]);
  return {
    id: row.id,
    destinationId: row.destination_id,
    manager: row.manager,
    state: row.state,
    attempt: row.attempt,
    jobCount: row.job_count,
    bytes: Number(row.bytes),
    lastError: row.last_error,
    errorCode: row.error_code,
    unconfirmedJobs: imports.reduce((sum, i) => sum + i.unconfirmed_jobs, 0),
    nextAttemptAt: iso(row.next_attempt_at),
    createdAt: iso(row.created_at),
    updatedAt: iso(row.updated_at),
    finishedAt: iso(row.finished_at),
    counts: withTotal(counts),
    // Handles stay internal: they are the manager's, and may name vendor-side files or accounts.
    imports: imports.map((i) => ({
      id: i.id, state: i.state, progress: i.progress, pollCount: i.poll_count, lastError: i.last_error,
      errorCode: i.error_code, unconfirmedJobs: i.unconfirmed_jobs, startedAt: iso(i.started_at), finishedAt: iso(i.finished_at),
      vendorId: vendorIdOf(i.handle),
    })),
  };
}

export function registerUploadRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get<IdParams>('/v1/uploads/:id', {
    config: { scope: 'jobs:read' },
    schema: { summary: 'One upload with its imports', tags: ['uploads'], params, response: { 200: { $ref: 'Upload#' }, ...errorResponses(401, 403, 404) } },
  }, async (request) => uploadView(ctx.db, await visibleUpload(ctx, request.principal, request.params.id)));

  app.get<IdParams>('/v1/uploads/:id/events', {
    // A HEAD would run the stream with nowhere to send it; SSE is GET only.
    exposeHeadRoute: false,
    config: { scope: 'jobs:read' },
    schema: {
      summary: 'Stream upload progress (SSE)', tags: ['uploads'], params, produces: ['text/event-stream'],
      response: {
        200: {
          description: 'text/event-stream: `progress` events (data: the Upload) on change, then one `completed` event once it is finished.',
          content: { 'text/event-stream': { schema: { type: 'string' } } },
        },
        ...errorResponses(401, 403, 404),
      },
    },
  }, async (request, reply) => {
    const row = await visibleUpload(ctx, request.principal, request.params.id);
    await streamSnapshots(ctx, request, reply, {
      key: `upload:${row.id}`,
      read: async () => {
        const fresh = (await getUpload(ctx.db, row.id)) ?? row;
        return { data: await uploadView(ctx.db, fresh), done: fresh.state === 'finished' };
      },
    });
  });
}
