/**
 * local-files: writes each upload as one CSV or NDJSON file into a local directory, atomically.
 * Fire-and-forget: once the file is renamed into place every event of the batch is delivered.
 */
import type { JsonObject, TransformInput } from '../../src/manager/contract.ts';
import { allSucceeded, defineManager } from '../../src/manager/define.ts';
import { PermanentError } from '../../src/manager/errors.ts';
import { localFilesConfig, type LocalFilesConfig } from './config.ts';
import { flatten } from './csv.ts';
import { writeUploadFile } from './writer.ts';

export default defineManager<LocalFilesConfig, JsonObject>({
  name: 'local-files',
  description: 'Writes each batch as one CSV or NDJSON file into a local directory (atomic rename).',
  configSchema: localFilesConfig,
  // One file per upload: bigger batches mean fewer, larger files for whoever picks them up.
  tuningDefaults: { maxEventsPerUpload: 10_000, maxBytesPerUpload: 64 * 1024 * 1024 },
  transform: (input, config) => toRow(input, config),
  async upload(batch, ctx) {
    // No rows, no file: an empty file would look like a real, if odd, delivery.
    if (batch.jobIds.length === 0) return { outcomes: [] };
    await writeUploadFile(batch, ctx);
    return allSucceeded(batch.jobIds);
  },
});

/** NDJSON keeps the event as is; CSV flattens it now, so a column clash fails only this job. */
function toRow(input: TransformInput, config: LocalFilesConfig): JsonObject {
  const event: unknown = input.event;
  if (typeof event !== 'object' || event === null || Array.isArray(event)) {
    const kind = Array.isArray(event) ? 'an array' : event === null ? 'null' : `a ${typeof event}`;
    throw new PermanentError(`event must be a JSON object to become a ${config.format} row, but it is ${kind}`);
  }
  return config.format === 'csv' ? flatten(event as JsonObject, true) : (event as JsonObject);
}
