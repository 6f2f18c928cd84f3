/**
 * salesforce-bulk: delivers records through Salesforce Bulk API 2.0 ingest jobs. Each upload
 * becomes one or more CSV jobs (split under 100 MB), polled until Salesforce finishes them; failed
 * and unprocessed records are read from the result files and mapped back to their jobs.
 */
import { defineManager } from '../../src/manager/define.ts';
import { toCsvRow, type CsvRow } from '../_bulk-csv/rows.ts';
import { SalesforceSession } from './api.ts';
import { keyColumn, salesforceConfig, type SalesforceConfig } from './config.ts';
import { cancelJob, jobOutcomes, pollJob } from './results.ts';
import { uploadRecords } from './upload.ts';

export default defineManager<SalesforceConfig, CsvRow, SalesforceSession>({
  name: 'salesforce-bulk',
  description: 'Inserts, updates, upserts or deletes Salesforce records with Bulk API 2.0 ingest jobs (CSV, polled, per-record results).',
  configSchema: salesforceConfig,
  limits: {
    // Salesforce caps a record at 400,000 characters; a bigger row could only fail there.
    maxRowBytes: 400_000 * 4,
  },
  tuningDefaults: {
    // Salesforce processes a job in internal batches of 10,000 records; big, rare jobs use the
    // org's daily job allowance best. The staged size stays under one 100 MB file.
    maxEventsPerUpload: 100_000,
    maxBytesPerUpload: 95_000_000,
    uploadIntervalMs: 10_000,
    // Every poll is an API request counted against the org's daily limit.
    pollIntervalMs: 15_000,
    // Salesforce retries an internal batch that overruns 5 minutes up to 20 times before failing
    // the job, so a large job can legitimately take hours.
    maxImportDurationMs: 6 * 60 * 60 * 1000,
  },
  createSession: (config) => new SalesforceSession(config),
  transform: ({ event }, config) => {
    const key = keyColumn(config);
    return toCsvRow(event, { fieldMapping: config.fieldMapping, required: key ? [key] : [], vendor: 'Salesforce' });
  },
  upload: (batch, ctx) => uploadRecords(batch, ctx),
  poll: (open, ctx) => pollJob(open, ctx),
  getUploadStats: (open, jobs, ctx) => jobOutcomes(open, jobs, ctx),
  cancelImport: (open, ctx) => cancelJob(open, ctx),
});
