/**
 * marketo-bulk-upload: delivers leads, custom object records or program members (config `object`)
 * through Marketo's Bulk Import API. Each upload becomes one or more CSV imports (each request
 * within 10 MB), polled until Marketo reports them complete; failed and warned rows are read from
 * the result files, mapped back to their jobs and reconciled against Marketo's totals.
 */
import { defineManager } from '../../src/manager/define.ts';
import { toCsvRow, type CsvRow } from '../_bulk-csv/rows.ts';
import { createMarketoSession, type MarketoSession } from './api.ts';
import { marketoConfig, requiredColumns, type MarketoConfig } from './config.ts';
import { importOutcomes } from './results.ts';
import { pollImport } from './status.ts';
import { uploadRecords } from './upload.ts';

export default defineManager<MarketoConfig, CsvRow, MarketoSession>({
  name: 'marketo-bulk-upload',
  description: 'Imports leads, custom object records or program members into Marketo with its Bulk Import API (CSV files, polled imports, per-row failures and warnings reconciled with its totals).',
  configSchema: marketoConfig,
  limits: {
    // Marketo queues at most 10 imports per account (2 running); an 11th is refused with 1016.
    maxConcurrentImports: 10,
  },
  tuningDefaults: {
    // Few large files suit an import queue of 10: wait for a fuller batch, and keep the staged
    // size near one 10 MB file (CSV is never larger than the staged JSON of the same cells).
    maxEventsPerUpload: 50_000,
    maxBytesPerUpload: 9_500_000,
    uploadIntervalMs: 10_000,
    // Marketo suggests polling every 5–30 s; each poll is one of the 100 calls per 20 s.
    pollIntervalMs: 10_000,
    // An import waits behind at most 9 others; hours means something is stuck.
    maxImportDurationMs: 6 * 60 * 60 * 1000,
  },
  createSession: (config) => createMarketoSession(config),
  transform: ({ event }, config) => toCsvRow(event, { fieldMapping: config.fieldMapping, required: requiredColumns(config), vendor: 'Marketo' }),
  upload: (batch, ctx) => uploadRecords(batch, ctx),
  poll: (open, ctx) => pollImport(open, ctx),
  getUploadStats: (open, jobs, ctx) => importOutcomes(open, jobs, ctx),
  // No cancelImport: Marketo has no API to cancel a bulk import; an overdue one is left to finish.
});
