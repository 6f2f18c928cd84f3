/**
 * webhook: POSTs each batch to an HTTP endpoint. Fire-and-forget: a 2xx answer means every event
 * of the batch was delivered, so there are no imports to poll.
 */
import type { JsonObject } from '../../src/manager/contract.ts';
import { allSucceeded, defineManager } from '../../src/manager/define.ts';
import { postBatch } from './client.ts';
import { webhookConfig, type WebhookConfig } from './config.ts';

export default defineManager<WebhookConfig, JsonObject>({
  name: 'webhook',
  description: 'POSTs batches of events to an HTTP endpoint as JSON ({"events":[...]}) or NDJSON.',
  configSchema: webhookConfig,
  // Receivers commonly cap request bodies at a few MB; keep batches well under that by default.
  tuningDefaults: { maxEventsPerUpload: 500, maxBytesPerUpload: 4 * 1024 * 1024 },
  // No transform: each event goes out as the JSON text it was accepted as, never parsed here.
  async upload(batch, ctx) {
    // The router never uploads an empty batch, but a no-op is the only sane answer to one.
    if (batch.jobIds.length === 0) return { outcomes: [] };
    await postBatch(batch, ctx);
    ctx.log.debug({ events: batch.jobIds.length, bytes: batch.bytes }, 'webhook accepted the batch');
    return allSucceeded(batch.jobIds);
  },
});
