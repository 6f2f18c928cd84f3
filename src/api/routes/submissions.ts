/**
 * Submission resources: status (`GET`, with `?onComplete=redirect` answering 303 to the jobs of
 * a finished submission, as in Azure's async request-reply pattern), cancel (`DELETE`), and the
 * SSE stream of its progress.
 */
import type { FastifyInstance } from 'fastify';
import { cancelJobs } from '../../store/jobs.maintenance.ts';
import type { SubmissionRow } from '../../db/schema.ts';
import { countStatesOfSubmission, getSubmission } from '../store/submissions.repository.ts';
import { canSee, type Principal } from '../auth.ts';
import type { ApiContext } from '../context.ts';
import { ApiError, notFound } from '../errors.ts';
import { errorResponses } from '../schemas.ts';
import { streamSnapshots } from '../sse.ts';
import { loadSubmissionView, submissionForViewer, submissionResultPath } from '../views.ts';

type IdParams = { Params: { id: string } };
const params = { type: 'object', properties: { id: { type: 'string', maxLength: 100 } }, required: ['id'] } as const;
const sseResponse = {
  description: 'text/event-stream: `progress` events (data: the Submission) on change, then one `completed` event with the final state; `:` heartbeat comments in between.',
  content: { 'text/event-stream': { schema: { type: 'string' } } },
};

async function visibleSubmission(ctx: ApiContext, principal: Principal, id: string): Promise<SubmissionRow> {
  const row = await getSubmission(ctx.db, id);
  if (!row || !canSee(principal, row.destination_id)) throw notFound(`submission "${id}"`);
  return row;
}

export function registerSubmissionRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get<IdParams & { Querystring: { onComplete?: 'redirect' } }>('/v1/submissions/:id', {
    config: { scope: 'jobs:read' },
    schema: {
      summary: 'Submission status', tags: ['submissions'], params,
      querystring: { type: 'object', properties: { onComplete: { type: 'string', enum: ['redirect'], description: '`redirect`: answer 303 to the jobs once done.' } } },
      response: { 200: { $ref: 'Submission#' }, 303: { type: 'null', description: 'Done: `Location` is the list of its jobs.' }, ...errorResponses(401, 403, 404) },
    },
  }, async (request, reply) => {
    const row = await visibleSubmission(ctx, request.principal, request.params.id);
    const view = await loadSubmissionView(ctx.db, row);
    if (view.done && request.query.onComplete === 'redirect') {
      return reply.code(303).header('Location', submissionResultPath(request.params.id)).send();
    }
    if (!view.done) reply.header('Retry-After', '1');
    return submissionForViewer(view.resource, row.key_id, request.principal.keyId);
  });

  app.delete<IdParams>('/v1/submissions/:id', {
    config: { scope: 'jobs:write' },
    schema: {
      summary: 'Cancel the jobs of a submission not uploaded yet',
      description: 'Jobs already in flight finish on their own. 409 when none could be cancelled because all remaining ones are in flight; 410 when all are already final.',
      tags: ['submissions'], params,
      response: { 200: { $ref: 'Submission#' }, ...errorResponses(401, 403, 404, 409, 410) },
    },
  }, async (request) => {
    const row = await visibleSubmission(ctx, request.principal, request.params.id);
    const reason = `cancelled through the API by ${request.principal.name}`;
    const cancelled = await cancelJobs(ctx.db, { submissionId: row.id }, reason);
    if (cancelled.length === 0) {
      const counts = await countStatesOfSubmission(ctx.db, row.id);
      if (counts.executing + counts.importing + counts.waiting > 0) {
        throw new ApiError(409, 'in_flight', 'every remaining job of this submission is already being uploaded or imported; they finish on their own');
      }
      throw new ApiError(410, 'already_final', 'every job of this submission is already final');
    }
    return submissionForViewer((await loadSubmissionView(ctx.db, row)).resource, row.key_id, request.principal.keyId);
  });

  app.get<IdParams>('/v1/submissions/:id/events', {
    // A HEAD would run the stream with nowhere to send it; SSE is GET only.
    exposeHeadRoute: false,
    config: { scope: 'jobs:read' },
    schema: { summary: 'Stream submission progress (SSE)', tags: ['submissions'], params, produces: ['text/event-stream'], response: { 200: sseResponse, ...errorResponses(401, 403, 404) } },
  }, async (request, reply) => {
    const row = await visibleSubmission(ctx, request.principal, request.params.id);
    await streamSnapshots(ctx, request, reply, {
      key: `submission:${row.id}`,
      read: async () => {
        const fresh = (await getSubmission(ctx.db, row.id)) ?? row;
        const view = await loadSubmissionView(ctx.db, fresh);
        return { data: view.resource, done: view.done };
      },
      present: (data) => submissionForViewer(data as Record<string, unknown>, row.key_id, request.principal.keyId),
    });
  });
}
