/**
 * Job resources: list with filters and cursor pagination, one job (payload only with the
 * `jobs:read-payload` scope), cancel, and retry. A job of a destination the key may not see is
 * answered exactly like a job that does not exist.
 */
import type { FastifyInstance } from 'fastify';
import { isBigintId } from '../../db/ids.ts';
import { getJob } from '../../store/jobs.repository.ts';
import { cancelJobs, requeueAborted } from '../../store/jobs.maintenance.ts';
import { listJobs } from '../../store/jobs.listing.ts';
import { readPayload } from '../../store/job-payloads.repository.ts';
import { JOB_STATES, type JobRow, type JobState } from '../../db/schema.ts';
import { canSee, hasScope, visibleDestinations, type Principal } from '../auth.ts';
import type { ApiContext } from '../context.ts';
import { ApiError, notFound } from '../errors.ts';
import { errorResponses } from '../schemas.ts';
import { toJob } from '../views.ts';

type IdParams = { Params: { id: string } };
const params = { type: 'object', properties: { id: { type: 'string', maxLength: 30 } }, required: ['id'] } as const;
const time = { type: 'string', format: 'date-time' } as const;

interface ListQuery {
  destinationId?: string; state?: string; submissionId?: string; limit: number; cursor?: string;
  createdAfter?: string; createdBefore?: string; updatedAfter?: string; updatedBefore?: string;
}

/** Cursors are opaque to callers (so the encoding can change) but carry only the last id seen. */
export const encodeCursor = (id: string) => Buffer.from(`j:${id}`).toString('base64url');
function decodeCursor(cursor: string): string {
  const match = /^j:(\d{1,19})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!match || !isBigintId(match[1]!)) throw new ApiError(400, 'invalid_request', 'query field "cursor" is not a cursor this API returned', 'cursor');
  return match[1]!;
}

function states(text: string | undefined): JobState[] | undefined {
  if (text === undefined) return undefined;
  const list = text.split(',').map((s) => s.trim()).filter(Boolean);
  const unknown = list.find((s) => !(JOB_STATES as readonly string[]).includes(s));
  if (unknown) throw new ApiError(400, 'invalid_request', `query field "state" has unknown state "${unknown}"; use ${JOB_STATES.join(', ')}`, 'state');
  return list as JobState[];
}

async function visibleJob(ctx: ApiContext, principal: Principal, id: string): Promise<JobRow> {
  const row = await getJob(ctx.db, id);
  if (!row || !canSee(principal, row.destination_id)) throw notFound(`job "${id}"`);
  return row;
}

export function registerJobRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get<{ Querystring: ListQuery }>('/v1/jobs', {
    config: { scope: 'jobs:read' },
    schema: {
      summary: 'List jobs, newest first', tags: ['jobs'],
      description: 'Keyset pagination: pass `nextCursor` back as `cursor`. Jobs inserted meanwhile never shift or repeat a page.',
      querystring: {
        type: 'object', additionalProperties: false,
        properties: {
          destinationId: { type: 'string' }, submissionId: { type: 'string' },
          state: { type: 'string', description: `Comma-separated: ${JOB_STATES.join(', ')}` },
          createdAfter: time, createdBefore: time, updatedAfter: time, updatedBefore: time,
          limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 }, cursor: { type: 'string', maxLength: 100 },
        },
      },
      response: {
        200: { type: 'object', properties: { jobs: { type: 'array', items: { $ref: 'Job#' } }, nextCursor: { type: ['string', 'null'] } }, required: ['jobs', 'nextCursor'] },
        ...errorResponses(400, 401, 403),
      },
    },
  }, async (request) => {
    const q = request.query;
    const date = (value: string | undefined) => (value === undefined ? undefined : new Date(value));
    const rows = await listJobs(ctx.db, {
      visibleDestinations: visibleDestinations(request.principal),
      destinationId: q.destinationId, states: states(q.state), submissionId: q.submissionId,
      createdAfter: date(q.createdAfter), createdBefore: date(q.createdBefore),
      updatedAfter: date(q.updatedAfter), updatedBefore: date(q.updatedBefore),
      beforeId: q.cursor === undefined ? undefined : decodeCursor(q.cursor),
      limit: q.limit,
    });
    const last = rows.length === q.limit ? rows[rows.length - 1] : undefined;
    return { jobs: rows.map((row) => toJob(row)), nextCursor: last ? encodeCursor(last.id) : null };
  });

  app.get<IdParams>('/v1/jobs/:id', {
    config: { scope: 'jobs:read' },
    schema: { summary: 'One job', tags: ['jobs'], params, response: { 200: { $ref: 'Job#' }, ...errorResponses(401, 403, 404) } },
  }, async (request) => {
    const row = await visibleJob(ctx, request.principal, request.params.id);
    const payload = hasScope(request.principal, 'jobs:read-payload') ? await readPayload(ctx.db, row.id) : undefined;
    return toJob(row, payload);
  });

  app.delete<IdParams>('/v1/jobs/:id', {
    config: { scope: 'jobs:write' },
    schema: {
      summary: 'Cancel a job not uploaded yet', tags: ['jobs'], params,
      response: { 200: { $ref: 'Job#' }, ...errorResponses(401, 403, 404, 409, 410) },
    },
  }, async (request) => {
    const row = await visibleJob(ctx, request.principal, request.params.id);
    const [cancelled] = await cancelJobs(ctx.db, { ids: [row.id] }, `cancelled through the API by ${request.principal.name}`);
    const now = await getJob(ctx.db, row.id);
    if (!now) throw notFound(`job "${row.id}"`);
    if (!cancelled) {
      if (now.state === 'executing' || now.state === 'importing') throw new ApiError(409, 'in_flight', `job ${row.id} is already ${now.state}; it finishes on its own`);
      throw new ApiError(410, 'already_final', `job ${row.id} is already ${now.state}`);
    }
    return toJob(now);
  });

  app.post<IdParams>('/v1/jobs/:id/retry', {
    config: { scope: 'jobs:write' },
    schema: {
      summary: 'Requeue an aborted job', tags: ['jobs'], params,
      response: { 200: { $ref: 'Job#' }, ...errorResponses(401, 403, 404, 409) },
    },
  }, async (request) => {
    const row = await visibleJob(ctx, request.principal, request.params.id);
    const requeued = await requeueAborted(ctx.db, { ids: [row.id] });
    if (requeued.length === 0) {
      throw new ApiError(409, 'not_aborted', `job ${row.id} is ${(await getJob(ctx.db, row.id))?.state ?? row.state}; only aborted jobs can be retried`);
    }
    ctx.router?.nudge(row.destination_id);
    return toJob((await getJob(ctx.db, row.id))!);
  });
}
