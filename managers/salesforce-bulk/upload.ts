/**
 * Uploading to Salesforce Bulk API 2.0: the batch becomes one or more CSV files under
 * `maxFileBytes`, each its own ingest job: create (`POST /jobs/ingest`), upload the data
 * (`PUT /jobs/ingest/{id}/batches`), close (`PATCH` state `UploadComplete`, without which
 * Salesforce never starts). A job we fail to close is set to `Aborted`, so nothing half-sent
 * lingers in the org.
 */
import { openAsBlob } from 'node:fs';
import type { UploadBatch, UploadResult } from '../../src/manager/contract.ts';
import { ERROR_CODES } from '../../src/manager/error-codes.ts';
import { RetryableError } from '../../src/manager/errors.ts';
import { uploadInParts, type CsvPart, type CsvPartHandle } from '../_bulk-csv/csv-parts.ts';
import { columnsOf, type CsvRow } from '../_bulk-csv/rows.ts';
import { readJson } from '../_http/request.ts';
import { ingestCall, type SalesforceContext } from './api.ts';

/** What the router persists for one ingest job. */
export interface SalesforceHandle extends CsvPartHandle {
  /** Salesforce's id of the ingest job (kept 7 days after it ends). */
  jobId: string;
}

/** Best-effort abort gets its own short deadline: it may run because the call's deadline passed. */
const ABORT_TIMEOUT_MS = 5_000;

export function uploadRecords(batch: UploadBatch<CsvRow>, ctx: SalesforceContext): Promise<UploadResult> {
  return uploadInParts(batch, {
    vendor: 'Salesforce',
    columns: columnsOf(ctx.config.fieldMapping),
    maxFileBytes: ctx.config.maxFileBytes,
    signal: ctx.signal,
    log: ctx.log,
    create: async (part) => ({ jobId: await createAndFill(part, ctx) }),
  });
}

async function createAndFill(part: CsvPart, ctx: SalesforceContext): Promise<string> {
  const { config } = ctx;
  const definition = {
    object: config.object,
    operation: config.operation,
    ...(config.operation === 'upsert' ? { externalIdFieldName: config.externalIdFieldName } : {}),
    ...(config.assignmentRuleId !== undefined ? { assignmentRuleId: config.assignmentRuleId } : {}),
    contentType: 'CSV',
    columnDelimiter: 'COMMA',
    lineEnding: 'LF', // csv-parts writes `\n`; a mismatch makes Salesforce fail the whole job
  };
  const created = await ingestCall(ctx, {
    what: `creating an ingest job for ${part.jobs.length} ${config.object} records`,
    creatingJob: true,
    method: 'POST',
    path: '',
    contentType: 'application/json',
    body: () => JSON.stringify(definition),
  });
  const job = (await readJson(created)) as { id?: unknown } | undefined;
  if (typeof job?.id !== 'string') throw new RetryableError('Salesforce created an ingest job but named no id', { code: ERROR_CODES.badVendorResponse });
  const jobId = job.id;
  try {
    await ingestCall(ctx, {
      what: `uploading ${part.bytes} bytes of CSV to ingest job ${jobId}`,
      method: 'PUT',
      path: `/${encodeURIComponent(jobId)}/batches`,
      contentType: 'text/csv',
      // A file-backed Blob: fetch streams it from disk with a known length.
      body: () => openAsBlob(part.path, { type: 'text/csv' }),
    }).then((response) => response.body?.cancel());
    await ingestCall(ctx, {
      what: `closing ingest job ${jobId}`,
      method: 'PATCH',
      path: `/${encodeURIComponent(jobId)}`,
      contentType: 'application/json',
      body: () => JSON.stringify({ state: 'UploadComplete' }),
    }).then((response) => response.body?.cancel());
  } catch (error) {
    await abortJob(jobId, { ...ctx, signal: AbortSignal.timeout(ABORT_TIMEOUT_MS) });
    throw error;
  }
  return jobId;
}

/** Sets a job to `Aborted`; failures are logged, not thrown (the job may already be finished). */
export async function abortJob(jobId: string, ctx: SalesforceContext): Promise<void> {
  try {
    const response = await ingestCall(ctx, {
      what: `aborting ingest job ${jobId}`,
      method: 'PATCH',
      path: `/${encodeURIComponent(jobId)}`,
      contentType: 'application/json',
      body: () => JSON.stringify({ state: 'Aborted' }),
    });
    await response.body?.cancel();
  } catch (error) {
    ctx.log.warn({ jobId, err: error }, 'could not abort the Salesforce ingest job');
  }
}
