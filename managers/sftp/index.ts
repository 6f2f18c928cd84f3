/**
 * sftp: drops each upload as CSV or NDJSON files on a partner's SFTP server, published atomically
 * (temporary name, size check, rename) so a downstream reader never picks up a partial file.
 * Fire-and-forget: once every part is in place, every event of the batch is delivered.
 */
import type { JsonObject } from '../../src/manager/contract.ts';
import { defineManager } from '../../src/manager/define.ts';
import { SftpSession } from './client/session.ts';
import { sftpConfig, type SftpConfig } from './config.ts';
import { toRow } from './format.ts';
import { uploadBatch } from './upload.ts';

export default defineManager<SftpConfig, JsonObject, SftpSession>({
  name: 'sftp',
  description: 'Drops each batch as CSV or NDJSON files (optionally gzipped, split into parts) on an SFTP server, atomically.',
  configSchema: sftpConfig,
  // Few, full files suit file pickups; an upload is one SSH session, so two at once is plenty.
  tuningDefaults: { maxEventsPerUpload: 50_000, maxBytesPerUpload: 64 * 1024 * 1024, uploadIntervalMs: 10_000, uploadConcurrency: 2 },
  createSession: (config, destinationId, log) => new SftpSession(config, destinationId, log),
  closeSession: (session) => session.close(),
  transform: (input, config) => toRow(input, config),
  upload: (batch, ctx) => uploadBatch(batch, ctx),
});
