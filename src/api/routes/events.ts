/**
 * `POST /v1/destinations/{destinationId}/events`: the submit. Everything is checked before
 * anything is written (destination, every event, the callback URL, the idempotency key); then
 * the submission row, its idempotency key and up to 10,000 jobs are written in one transaction
 * with one `insertJobs` statement. The answer is 202 with `Location` and `Retry-After` at once;
 * `Prefer: wait=N` holds it up to N seconds for a final state.
 */
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { claimIdempotencyKey, getIdempotencyKey, saveIdempotentResponse } from '../store/idempotency-keys.repository.ts';
import { insertJobs } from '../../store/jobs.repository.ts';
import { getSubmission, insertSubmission } from '../store/submissions.repository.ts';
import type { JsonObject } from '../../manager/contract.ts';
import { abortableDelay } from '../../util/delay.ts';
import { principalKey } from '../auth.ts';
import type { CallbackPolicy } from '../callbacks/allow-list.ts';
import { acceptingDestination, type ApiContext } from '../context.ts';
import { ApiError } from '../errors.ts';
import { idempotencyKeyOf, parsePrefer, requestHash, serialiseEvents } from '../http-semantics.ts';
import type { ApiMetrics } from '../metrics.ts';
import { errorResponses, SUBMISSION_STATES } from '../schemas.ts';
import { loadSubmissionView, submissionForViewer, submissionPath, type SubmissionView } from '../views.ts';

export const MAX_EVENTS = 10_000;

const bodySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['events'],
  properties: {
    events: { type: 'array', minItems: 1, maxItems: MAX_EVENTS, items: { type: 'object' }, description: 'The events, one job each.' },
    callback: {
      type: 'object',
      additionalProperties: false,
      required: ['url'],
      properties: { url: { type: 'string', minLength: 1, maxLength: 2048, description: 'Receives one signed POST when the submission is final.' } },
    },
  },
} as const;

// OpenAPI description of the callback we send, keyed by the runtime expression of the caller's
// URL, so a receiver can be generated from /openapi.json.
const signatureHelp =
  'Signed per Standard Webhooks: headers `webhook-id` (same on every retry: deduplicate on it), ' +
  '`webhook-timestamp` (unix seconds of this attempt) and `webhook-signature: v1,<base64 HMAC-SHA256>` over ' +
  '`<webhook-id>.<webhook-timestamp>.<raw body>` keyed with the base64-decoded part of the `whsec_` secret. ' +
  'A 2xx answer acknowledges; `410 Gone` stops retries; anything else (3xx included) is retried with backoff.';

const CallbackEventSchema = {
  type: 'object',
  properties: {
    type: { type: 'string', enum: ['submission.completed'] },
    timestamp: { type: 'string', format: 'date-time' },
    data: {
      type: 'object',
      properties: {
        submissionId: { type: 'string' },
        destinationId: { type: 'string' },
        state: { type: 'string', enum: SUBMISSION_STATES.filter((s) => s !== 'pending') },
        counts: { $ref: 'StateCounts#' },
        errors: { type: 'array', items: { type: 'object', properties: { jobId: { type: 'string' }, state: { type: 'string' }, reason: { type: 'string' } } } },
        createdAt: { type: 'string', format: 'date-time' },
        completedAt: { type: 'string', format: 'date-time' },
        statusUrl: { type: 'string' },
        resultUrl: { type: 'string' },
      },
      required: ['submissionId', 'destinationId', 'state', 'counts'],
    },
  },
  required: ['type', 'timestamp', 'data'],
} as const;

const callbackDocs = {
  submissionCompleted: {
    '{$request.body#/callback/url}': {
      post: {
        requestBody: { description: signatureHelp, required: true, content: { 'application/json': { schema: CallbackEventSchema } } },
        responses: {
          '2XX': { description: 'Received; no further attempts.' },
          '410': { description: 'Gone: the receiver no longer wants this callback; retries stop.' },
        },
      },
    },
  },
};

const accepted = (description: string) => ({
  description,
  headers: {
    Location: { type: 'string', description: 'The submission status URL.' },
    'Retry-After': { type: 'integer', description: 'Seconds after which polling the status is worthwhile.' },
  },
  $ref: 'Accepted#',
});

async function waitUntilDone(ctx: ApiContext, id: string, seconds: number, gone: AbortSignal): Promise<SubmissionView | undefined> {
  const deadline = Date.now() + seconds * 1000;
  const signal = AbortSignal.any([ctx.stopping, gone]);
  for (let pause = 50; ; pause = Math.min(pause * 2, 500)) {
    const row = await getSubmission(ctx.db, id);
    const view = row && (await loadSubmissionView(ctx.db, row));
    if (!view || view.done || signal.aborted || Date.now() >= deadline) return view;
    await abortableDelay(Math.min(pause, deadline - Date.now()), signal);
  }
}

export function registerEventRoutes(app: FastifyInstance, ctx: ApiContext, policy: CallbackPolicy, metrics: ApiMetrics): void {
  app.post<{ Params: { destinationId: string }; Body: { events: JsonObject[]; callback?: { url: string } } }>(
    '/v1/destinations/:destinationId/events',
    {
      config: { scope: 'events:write' },
      schema: {
        summary: 'Submit events',
        description: 'Accepts 1 to 10,000 events as jobs and answers at once. Headers: `Idempotency-Key`, `Prefer: respond-async, wait=N`.',
        tags: ['events'],
        params: { type: 'object', properties: { destinationId: { type: 'string' } }, required: ['destinationId'] },
        headers: { type: 'object', properties: { 'idempotency-key': { type: 'string' }, prefer: { type: 'string' } } },
        body: bodySchema,
        response: { 202: accepted('Accepted: the jobs are queued'), 200: accepted('Idempotent repeat, or final within `Prefer: wait`'), ...errorResponses(400, 401, 403, 404, 409, 413, 415, 422, 429) },
        callbacks: callbackDocs,
      },
    },
    async (request, reply) => {
      const destination = acceptingDestination(ctx, request.principal, request.params.destinationId);
      const body = request.body;
      const texts = serialiseEvents(body.events, ctx.config.apiMaxEventDepth);
      const callbackUrl = body.callback?.url ?? null;
      if (callbackUrl !== null) {
        if (!ctx.config.callbackSecret) throw new ApiError(400, 'callbacks_disabled', 'callbacks are not enabled on this server (no BATCH_ROUTER_CALLBACK_SECRET); omit "callback"', 'callback');
        const problem = await policy.problem(callbackUrl);
        if (problem) throw new ApiError(400, 'invalid_request', `body field "callback.url" ${problem}`, 'callback.url');
      }
      const idempotencyKey = idempotencyKeyOf(request.headers['idempotency-key']);
      const keyId = principalKey(request.principal);
      const prefer = parsePrefer(request.headers.prefer);
      // A wait holds the connection for up to a minute: its slot is taken before anything is
      // written, so a 429 here never leaves an accepted submission behind.
      // The response's 'close' comes once it is sent or the client left, whatever happens between.
      if (prefer.waitSeconds > 0) reply.raw.once('close', ctx.holds.acquire(keyId, 'waits'));
      const submissionId = `sub_${randomBytes(12).toString('base64url')}`;
      const result = await ctx.db.transaction().execute(async (trx) => {
        if (idempotencyKey) {
          const hash = requestHash(destination.id, body);
          if (!(await claimIdempotencyKey(trx, { keyId, key: idempotencyKey, requestHash: hash, submissionId }))) {
            const earlier = await getIdempotencyKey(trx, keyId, idempotencyKey);
            if (!earlier?.response || earlier.requestHash !== hash) {
              throw new ApiError(422, 'idempotency_key_reused', 'this Idempotency-Key was used for a different request; use a new key for new events', 'Idempotency-Key');
            }
            return { repeat: true, response: earlier.response, submissionId: earlier.submissionId };
          }
        }
        await insertSubmission(trx, { id: submissionId, destinationId: destination.id, keyId: request.principal.keyId, jobCount: texts.length, callbackUrl });
        const jobIds = await insertJobs(trx, destination.id, texts, submissionId);
        const response: JsonObject = { submissionId, jobIds, statusUrl: submissionPath(submissionId), state: 'pending' };
        if (idempotencyKey) await saveIdempotentResponse(trx, keyId, idempotencyKey, response);
        return { repeat: false, response, submissionId };
      });
      if (!result.repeat) {
        ctx.router?.nudge(destination.id);
        metrics.eventsAccepted.inc({ destination: destination.id }, texts.length);
      }
      reply.header('Location', submissionPath(result.submissionId));
      reply.header('Retry-After', String(await ctx.retryAfterSeconds(destination)));
      reply.header('Vary', 'Prefer');
      const gone = new AbortController();
      reply.raw.once('close', () => gone.abort());
      const view = result.repeat || prefer.waitSeconds > 0
        ? await waitUntilDone(ctx, result.submissionId, result.repeat ? 0 : prefer.waitSeconds, gone.signal)
        : undefined;
      const answer = { ...result.response, ...(view ? { state: view.state, submission: submissionForViewer(view.resource, view.ownerKeyId, request.principal.keyId) } : {}) };
      if (result.repeat) return reply.code(200).send(answer);
      if (view?.done) return reply.code(200).header('Preference-Applied', `wait=${prefer.waitSeconds}`).send(answer);
      if (prefer.respondAsync) reply.header('Preference-Applied', 'respond-async');
      return reply.code(202).send(answer);
    },
  );
}
