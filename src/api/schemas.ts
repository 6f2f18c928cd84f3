/**
 * JSON schemas of the API's resources. They do three jobs at once: fastify validates requests and
 * serialises responses with them (a field missing here is never sent, so nothing leaks by
 * accident), and @fastify/swagger turns them into /openapi.json. Registered with `$id`s so the
 * OpenAPI document shows them once, under components.
 */
import type { FastifyInstance } from 'fastify';
import { JOB_STATES } from '../db/schema.ts';

const text = { type: 'string' } as const;
const nullableText = { type: ['string', 'null'] } as const;
const time = { type: 'string', format: 'date-time' } as const;
const nullableTime = { type: ['string', 'null'], format: 'date-time' } as const;
const count = { type: 'integer', minimum: 0 } as const;

declare module 'fastify' {
  interface FastifySchema {
    /** OpenAPI callbacks of the route, copied into /openapi.json by @fastify/swagger. */
    callbacks?: Record<string, unknown>;
  }
}

export const SUBMISSION_STATES = ['pending', 'completed', 'failed', 'partial', 'cancelled'] as const;

export const ErrorSchema = {
  $id: 'Error',
  type: 'object',
  description: 'Every error response. `field` names the offending request field, e.g. `events[3]`.',
  properties: { error: text, message: text, field: text, requestId: text },
  required: ['error', 'message'],
} as const;

export const StateCountsSchema = {
  $id: 'StateCounts',
  type: 'object',
  description: 'Jobs by state; `total` is their sum.',
  properties: Object.fromEntries([...JOB_STATES, 'total'].map((s) => [s, count])),
  required: [...JOB_STATES, 'total'],
} as const;

export const JobSchema = {
  $id: 'Job',
  type: 'object',
  properties: {
    id: text,
    destinationId: text,
    state: { type: 'string', enum: JOB_STATES },
    attempts: count,
    nextAttemptAt: nullableTime,
    lastError: nullableText,
    errorCode: { ...nullableText, description: 'Stable code of lastError (outcome_unconfirmed, record_rejected, rate_limited, config, …).' },
    vendorCode: { ...nullableText, description: "The vendor's own code of lastError, verbatim, when it gave one." },
    reason: { ...nullableText, description: 'Why the job is final (abort or cancel cause, or a success warning).' },
    uploadId: nullableText,
    importId: nullableText,
    submissionId: nullableText,
    payloadBytes: count,
    createdAt: time,
    updatedAt: time,
    finishedAt: nullableTime,
    payload: { type: 'object', additionalProperties: true, description: 'The event; only with the jobs:read-payload scope.' },
  },
  required: ['id', 'destinationId', 'state', 'attempts', 'createdAt', 'updatedAt'],
} as const;

export const CallbackStatusSchema = {
  $id: 'CallbackStatus',
  type: 'object',
  properties: {
    url: text,
    id: { ...nullableText, description: 'webhook-id of the latest callback event; null until the submission is final.' },
    state: { type: 'string', enum: ['waiting', 'pending', 'delivered', 'failed', 'gone'] },
    attempts: count,
    lastStatus: { type: ['integer', 'null'] },
    lastError: nullableText,
    lastAttemptAt: nullableTime,
    nextAttemptAt: nullableTime,
    finishedAt: nullableTime,
  },
  required: ['url', 'state', 'attempts'],
} as const;

export const SubmissionSchema = {
  $id: 'Submission',
  type: 'object',
  properties: {
    id: text,
    destinationId: text,
    state: { type: 'string', enum: SUBMISSION_STATES },
    done: { type: 'boolean', description: 'True once every job is final.' },
    progress: { type: 'integer', minimum: 0, maximum: 100, description: 'Percentage of jobs that are final.' },
    counts: { $ref: 'StateCounts#' },
    createdAt: time,
    completedAt: nullableTime,
    errors: {
      type: 'array',
      description: 'The first aborted or cancelled jobs with their reasons.',
      items: { type: 'object', properties: { jobId: text, state: text, reason: text }, required: ['jobId', 'state', 'reason'] },
    },
    callback: { anyOf: [{ $ref: 'CallbackStatus#' }, { type: 'null' }] },
    links: { type: 'object', properties: { self: text, jobs: text, events: text }, required: ['self', 'jobs', 'events'] },
  },
  required: ['id', 'destinationId', 'state', 'done', 'progress', 'counts', 'createdAt', 'errors', 'links'],
} as const;

export const AcceptedSchema = {
  $id: 'Accepted',
  type: 'object',
  description: 'Answer to a submit: 202 while the jobs run, 200 for an idempotent repeat or a completed `Prefer: wait`.',
  properties: {
    submissionId: text,
    jobIds: { type: 'array', items: text, description: 'One per event, in request order.' },
    statusUrl: text,
    state: { type: 'string', enum: SUBMISSION_STATES },
    submission: { $ref: 'Submission#' },
  },
  required: ['submissionId', 'jobIds', 'statusUrl', 'state'],
} as const;

export const UploadSchema = {
  $id: 'Upload',
  type: 'object',
  properties: {
    id: text,
    destinationId: text,
    manager: text,
    state: { type: 'string', enum: ['uploading', 'retry_wait', 'importing', 'finished'] },
    attempt: count,
    jobCount: count,
    bytes: count,
    lastError: nullableText,
    errorCode: nullableText,
    unconfirmedJobs: { ...count, description: "Jobs whose outcome the vendor's results did not confirm (its totals and listed rows disagreed)." },
    nextAttemptAt: nullableTime,
    createdAt: time,
    updatedAt: time,
    finishedAt: nullableTime,
    counts: { $ref: 'StateCounts#' },
    imports: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          id: text, state: text, progress: { type: ['number', 'null'] }, pollCount: count,
          lastError: nullableText, errorCode: nullableText, unconfirmedJobs: count, startedAt: time, finishedAt: nullableTime,
          vendorId: { ...nullableText, description: 'The vendor\'s id of this import (job or batch id) when the manager recorded one, to quote to the vendor\'s support.' },
        },
      },
    },
  },
  required: ['id', 'destinationId', 'state', 'counts', 'imports'],
} as const;

export const DestinationSchema = {
  $id: 'Destination',
  type: 'object',
  properties: {
    id: text,
    manager: text,
    enabled: { type: 'boolean' },
    status: { type: 'string', enum: ['ready', 'disabled', 'invalid'] },
    error: text,
    health: {
      type: 'object',
      properties: {
        worker: {
          description: 'This process\'s worker loop; null in an API-only process.',
          anyOf: [{ type: 'null' }, {
            type: 'object',
            properties: { running: { type: 'boolean' }, lastRunAt: nullableTime, lastError: nullableText, consecutiveErrors: count },
          }],
        },
        lastError: nullableText,
        lastErrorAt: nullableTime,
        openImports: { ...count, description: 'Imports the vendor is still working on, being polled.' },
        uploadsInFlight: { ...count, description: 'Uploads being sent or waiting to be re-sent.' },
      },
    },
    backlog: { $ref: 'StateCounts#' },
    oldestWaitingSeconds: { type: ['number', 'null'] },
    throughput: {
      type: 'object',
      description: 'Jobs that reached a final state in the last `windowMinutes`, per minute.',
      properties: { windowMinutes: count, succeededPerMinute: { type: 'number' }, abortedPerMinute: { type: 'number' }, cancelledPerMinute: { type: 'number' } },
    },
    deliveredPerMinute: {
      type: 'array', items: count, minItems: 60, maxItems: 60,
      description: 'Jobs that succeeded in each of the last 60 minutes, oldest first; the last entry is the current (partial) minute.',
    },
    medianUploadSeconds: { type: ['number', 'null'], description: 'Median seconds from start to finish (imports included) of the last 50 finished uploads; null before the first.' },
  },
  required: ['id', 'manager', 'enabled', 'status'],
} as const;

export function registerSchemas(app: FastifyInstance): void {
  for (const schema of [ErrorSchema, StateCountsSchema, JobSchema, CallbackStatusSchema, SubmissionSchema, AcceptedSchema, UploadSchema, DestinationSchema]) {
    app.addSchema(schema);
  }
}

/** The usual error responses of a route, for the OpenAPI document. */
export function errorResponses(...codes: number[]): Record<number, { $ref: string; description: string }> {
  const descriptions: Record<number, string> = {
    400: 'Invalid request; `field` names the problem', 401: 'Missing or invalid API key', 403: 'The key lacks the scope',
    404: 'Unknown, or not visible to this key', 409: 'Conflicts with the current state', 410: 'Already final',
    413: 'Body over the size limit', 415: 'Not application/json', 422: 'Idempotency-Key reused with another body', 429: 'Rate limited',
  };
  return Object.fromEntries(codes.map((c) => [c, { $ref: 'Error#', description: descriptions[c] ?? 'Error' }]));
}
