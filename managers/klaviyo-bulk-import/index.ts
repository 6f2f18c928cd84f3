/**
 * klaviyo-bulk-import: upserts profiles through Klaviyo's Bulk Import Profiles API. Each upload
 * becomes one or more import jobs (≤ 10,000 profiles, ≈ 5 MB each), polled until complete; per
 * profile failures come from the job's import errors, reconciled with the job's counts.
 * In subscribe mode it records marketing consent through Bulk Subscribe Profiles instead.
 */
import { defineManager } from '../../src/manager/define.ts';
import { chunkRows, submitInChunks } from '../_http/chunks.ts';
import { createKlaviyoSession, type KlaviyoSession } from './api.ts';
import { klaviyoConfig, type KlaviyoConfig } from './config.ts';
import { toProfile, type ProfileRow } from './profile.ts';
import { importErrorOutcomes, pollImport } from './results.ts';
import { chunkLimits, submitChunk } from './submit.ts';
import { endpointFor } from './endpoints.ts';
import { toSubscription } from './subscription.ts';

export default defineManager<KlaviyoConfig, ProfileRow, KlaviyoSession | undefined>({
  name: 'klaviyo-bulk-import',
  description: "Upserts profiles (optionally into a list) through Klaviyo's Bulk Import Profiles API.",
  configSchema: klaviyoConfig,
  // One upload of up to 10,000 small profiles is usually one import job; bigger profiles split by size.
  tuningDefaults: { maxEventsPerUpload: 10_000, pollIntervalMs: 10_000 },
  createSession: (config, _destinationId, log, services) => createKlaviyoSession(config, log, services),
  transform: ({ event }, config) => (config.mode === 'subscribe' ? toSubscription(event, config) : toProfile(event, config)),
  async upload(batch, ctx) {
    if (batch.jobIds.length === 0) return { outcomes: [] };
    const endpoint = endpointFor(ctx.config);
    const chunks = chunkRows(batch.rows(), chunkLimits(endpoint, ctx.config));
    return submitInChunks(batch, chunks, ctx.signal, (chunk) => submitChunk(chunk, ctx, endpoint));
  },
  poll: (open, ctx) => pollImport(open, ctx),
  getUploadStats: (open, jobs, ctx) => importErrorOutcomes(open, jobs, ctx),
});
