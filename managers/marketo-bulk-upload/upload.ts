/**
 * Uploading to Marketo: the batch becomes one or more CSV files, each sent as one multipart
 * request to the import endpoint of the configured object (objects.ts) and becoming one import to
 * poll. A file gets at most `maxFileBytes`, and never more than the 10 MB request limit leaves
 * after the multipart envelope.
 *
 * Every job's correlation key (a hash of its cells, as Marketo will echo them) goes into the
 * import's job list, which the router persists; the handle also keeps the column list and the
 * object, so results can be mapped exactly after a restart even if the config was edited.
 */
import type { UploadBatch, UploadResult } from '../../src/manager/contract.ts';
import { ERROR_CODES } from '../../src/manager/error-codes.ts';
import { RetryableError } from '../../src/manager/errors.ts';
import { uploadInParts, type CsvPart, type CsvPartHandle } from '../_bulk-csv/csv-parts.ts';
import { columnsOf, type CsvRow } from '../_bulk-csv/rows.ts';
import { marketoCall, type MarketoContext } from './api.ts';
import { MARKETO_MAX_REQUEST_BYTES } from './config.ts';
import { envelopeBytes, multipartBody } from './multipart.ts';
import { createPath, describeTarget, formFields, objectFieldOf, targetOf, type ImportTarget } from './objects.ts';
import { marketoRowKey } from './row-key.ts';

/** What the router persists for one Marketo import. */
export interface MarketoHandle extends CsvPartHandle {
  /** Marketo's id of the import (valid for 7 days). */
  batchId: number;
  /** What was imported (handles from before custom objects and program members lack it: "leads"). */
  object: ImportTarget['object'];
  /** Custom object API name or program id; empty for leads. */
  target: string;
}

/** A part number no upload reaches, to size the envelope for any file name of the upload. */
const LONGEST_PART = 99_999;

export function uploadRecords(batch: UploadBatch<CsvRow>, ctx: MarketoContext): Promise<UploadResult> {
  const { config } = ctx;
  const target = targetOf(config);
  const fields = formFields(config);
  const fileName = (part: number) => `${batch.destinationId}-${batch.uploadId}-${part}.csv`;
  const fileLimit = Math.min(config.maxFileBytes, MARKETO_MAX_REQUEST_BYTES - envelopeBytes(fields, fileName(LONGEST_PART)));
  return uploadInParts(batch, {
    vendor: 'Marketo',
    columns: columnsOf(config.fieldMapping),
    maxFileBytes: fileLimit,
    rowKey: marketoRowKey,
    signal: ctx.signal,
    log: ctx.log,
    create: async (part, index) => ({
      batchId: await createImport(part, fields, fileName(index + 1), target, ctx),
      object: target.object,
      target: target.target,
    }),
  });
}

/** One file → one Marketo import; returns its batchId. */
async function createImport(part: CsvPart, fields: Array<[string, string]>, fileName: string, target: ImportTarget, ctx: MarketoContext): Promise<number> {
  const objectField = objectFieldOf(ctx.config);
  const answer = await marketoCall(ctx, {
    what: `creating an import of ${part.jobs.length} ${describeTarget(target)}`,
    method: 'POST',
    path: createPath(target),
    ...(objectField ? { objectField } : {}),
    body: () => multipartBody(fields, fileName, part.path),
  });
  const result = answer.kind === 'json' ? answer.envelope.result?.[0] : undefined;
  const raw: unknown = result?.batchId;
  // Only a number or a numeric text is an id: Number() of an object owning a non-callable
  // "toString" throws a bare TypeError instead of giving NaN.
  const batchId = typeof raw === 'number' || typeof raw === 'string' ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(batchId)) {
    // Without an id the import cannot be polled; sending again may duplicate it, which an
    // insert-or-update import tolerates.
    throw new RetryableError('Marketo accepted the import file but named no batchId', { code: ERROR_CODES.badVendorResponse });
  }
  return batchId;
}
