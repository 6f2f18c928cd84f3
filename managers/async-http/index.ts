/**
 * async-http: delivers events to an in-house service that speaks the async-operations protocol
 * (README.md): one POST per chunk of operations, answered at once (200, per-item results) or later
 * (202, operation ids polled until completed or failed).
 */
import { defineManager } from '../../src/manager/define.ts';
import type { JsonObject } from '../../src/manager/contract.ts';
import { PermanentError } from '../../src/manager/errors.ts';
import { chunkRows, submitInChunks } from '../_http/chunks.ts';
import { submitOperations } from './client.ts';
import { asyncHttpConfig, type AsyncHttpConfig } from './config.ts';
import { createAsyncHttpSession, operationOutcomes, pollOperations, type AsyncHttpSession } from './poll.ts';

/** Request bodies are kept under this size whatever maxOperationsPerRequest allows. */
const MAX_REQUEST_BYTES = 8 * 1024 * 1024;

export default defineManager<AsyncHttpConfig, JsonObject, AsyncHttpSession>({
  name: 'async-http',
  description: 'Submits events as operations to a service speaking the async-operations protocol and follows them to completion.',
  configSchema: asyncHttpConfig,
  // pollIntervalMs (config) sets the cadence: every poll answer carries it as retryAfterMs, so the
  // router's pollIntervalMs only needs to be a low floor (README, "Poll cadence").
  tuningDefaults: { maxEventsPerUpload: 1_000, pollIntervalMs: 100 },
  createSession: () => createAsyncHttpSession(),
  transform({ event }) {
    const value: unknown = event;
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new PermanentError(`event must be a JSON object to be sent as an operation, but it is ${Array.isArray(value) ? 'an array' : String(value === null ? 'null' : typeof value)}`);
    }
    return event;
  },
  async upload(batch, ctx) {
    if (batch.jobIds.length === 0) return { outcomes: [] };
    const chunks = chunkRows(batch.rows(), { maxItems: ctx.config.maxOperationsPerRequest, maxBytes: MAX_REQUEST_BYTES, envelopeBytes: 64 });
    // Keys name the upload and the chunk's jobs: a retry must keep the upload to keep its keys.
    return submitInChunks(batch, chunks, ctx.signal, (rows) => submitOperations(rows, { uploadId: batch.uploadId }, ctx), { retryUploadAsUnit: true });
  },
  poll: (open, ctx) => pollOperations(open, ctx),
  getUploadStats: (open, jobs, ctx) => operationOutcomes(open, jobs, ctx),
});
