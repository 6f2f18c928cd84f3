/**
 * Uploading to Marketo: the batch becomes one or more CSV files under `maxFileBytes`, each sent as
 * `POST /bulk/v1/leads.json` (multipart, `format=csv`) and becoming one import to poll.
 *
 * Every job's correlation key (a hash of its cells) goes into the import's job list, which the
 * router persists; the handle also keeps the column list, so results can be mapped exactly after a
 * restart even if `fieldMapping` was edited in between.
 */
import { openAsBlob } from 'node:fs';
import type { CallContext, UploadBatch, UploadResult } from '../../src/manager/contract.ts';
import { RetryableError } from '../../src/manager/errors.ts';
import { uploadInParts, type CsvPart, type CsvPartHandle } from '../_bulk-csv/csv-parts.ts';
import { columnsOf, type CsvRow } from '../_bulk-csv/rows.ts';
import { marketoCall } from './api.ts';
import type { MarketoConfig } from './config.ts';

/** What the router persists for one Marketo import. */
export interface MarketoHandle extends CsvPartHandle {
  /** Marketo's id of the import (valid for 7 days). */
  batchId: number;
}

export function uploadLeads(batch: UploadBatch<CsvRow>, ctx: CallContext<MarketoConfig>): Promise<UploadResult> {
  return uploadInParts(batch, {
    vendor: 'Marketo',
    columns: columnsOf(ctx.config.fieldMapping),
    maxFileBytes: ctx.config.maxFileBytes,
    signal: ctx.signal,
    log: ctx.log,
    create: async (part, index) => ({ batchId: await createImport(part, `${batch.destinationId}-${batch.uploadId}-${index + 1}.csv`, ctx) }),
  });
}

/** One file → one Marketo import; returns its batchId. */
async function createImport(part: CsvPart, fileName: string, ctx: CallContext<MarketoConfig>): Promise<number> {
  const { config } = ctx;
  const answer = await marketoCall(ctx, {
    what: `creating an import of ${part.jobs.length} leads`,
    method: 'POST',
    path: '/bulk/v1/leads.json?format=csv',
    sentListId: config.listId !== undefined,
    body: async () => {
      const form = new FormData();
      form.set('format', 'csv');
      if (config.lookupField) form.set('lookupField', config.lookupField);
      if (config.listId !== undefined) form.set('listId', String(config.listId));
      if (config.partitionName !== undefined) form.set('partitionName', config.partitionName);
      // A file-backed Blob: fetch streams it from disk, so a 10 MB part is never held in memory.
      form.set('file', await openAsBlob(part.path, { type: 'text/csv' }), fileName);
      return form;
    },
  });
  const result = answer.kind === 'json' ? answer.envelope.result?.[0] : undefined;
  const batchId = Number(result?.batchId);
  if (!Number.isSafeInteger(batchId)) {
    // Without an id the import cannot be polled; sending again may duplicate it, which an
    // insert-or-update import tolerates.
    throw new RetryableError('Marketo accepted the import file but named no batchId');
  }
  return batchId;
}
