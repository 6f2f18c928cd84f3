/**
 * Following a Marketo import: its status endpoint (objects.ts) reports `Queued`, `Importing`,
 * `Complete` or `Failed`, with the totals the results are later reconciled against.
 */
import type { OpenImport, PollResult } from '../../src/manager/contract.ts';
import { ERROR_CODES } from '../../src/manager/error-codes.ts';
import { PermanentError, RetryableError } from '../../src/manager/errors.ts';
import { partHandle, unusableHandle } from '../_bulk-csv/result-file.ts';
import { marketoCall, type MarketoContext } from './api.ts';
import { isRetryableImportFailure } from './errors.ts';
import { importPaths, type ImportTarget } from './objects.ts';
import type { MarketoHandle } from './upload.ts';

/** Marketo's totals for one import. */
export interface BatchStatus {
  status: string;
  /** Rows imported (warned ones included): `numOfLeadsProcessed`, or `numOfObjectsProcessed` for custom objects. */
  processed: number;
  failed: number;
  warned: number;
  message: string;
}

const isBatchId = (value: unknown) => typeof value === 'number' && Number.isSafeInteger(value);

/** The persisted handle, or undefined when it is not one of ours. */
export function marketoHandle(open: OpenImport): MarketoHandle | undefined {
  return partHandle<MarketoHandle>(open.handle, 'batchId', isBatchId);
}

export function requireHandle(open: OpenImport): MarketoHandle {
  const handle = marketoHandle(open);
  if (!handle) throw new PermanentError(unusableHandle('Marketo', 'batchId'));
  return handle;
}

export function targetOfHandle(handle: MarketoHandle): ImportTarget {
  const { object, target } = handle as { object?: ImportTarget['object']; target?: string };
  return { object: object ?? 'leads', target: target ?? '' };
}

export async function batchStatus(handle: MarketoHandle, ctx: MarketoContext): Promise<BatchStatus> {
  const paths = importPaths(targetOfHandle(handle), handle.batchId);
  const answer = await marketoCall(ctx, { what: `checking import ${handle.batchId}`, method: 'GET', path: paths.status });
  const result = answer.kind === 'json' ? answer.envelope.result?.[0] : undefined;
  if (!result || typeof result.status !== 'string') {
    throw new RetryableError(`Marketo answered no status for import ${handle.batchId}`, { code: ERROR_CODES.badVendorResponse });
  }
  const count = (field: string) => rowCount(result[field], field, handle.batchId);
  return {
    status: result.status,
    processed: count(paths.processedField),
    failed: count('numOfRowsFailed'),
    warned: count('numOfRowsWithWarning'),
    message: typeof result.message === 'string' ? result.message : '',
  };
}

/**
 * A row count of the status answer. Absent reads as 0 (the totals then fail to add up and the
 * results are reconciled). Anything but a whole number from 0 up is garbage: a negative count
 * could make totals that do not cover the rows sent look as if they did
 * (`numOfLeadsProcessed: 5, numOfRowsFailed: -1` for 4 rows), so it is refused, never used.
 */
function rowCount(value: unknown, field: string, batchId: number): number {
  if (value === undefined || value === null) return 0;
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return value;
  throw new RetryableError(`Marketo reported ${field} ${JSON.stringify(value)?.slice(0, 40)} for import ${batchId}, which is not a row count`, { code: ERROR_CODES.badVendorResponse });
}

export async function pollImport(open: OpenImport, ctx: MarketoContext): Promise<PollResult> {
  const handle = marketoHandle(open);
  if (!handle) return { status: 'failed', retryable: false, reason: unusableHandle('Marketo', 'batchId') };
  const batch = await batchStatus(handle, ctx);
  switch (batch.status) {
    case 'Queued':
    case 'Importing':
      return { status: 'in_progress', progress: handle.rows > 0 ? Math.min(100, (100 * (batch.processed + batch.failed)) / handle.rows) : 0 };
    case 'Complete':
      // Totals that do not cover every row sent are no evidence for the rows left out: the results
      // are read and reconciled (results.ts) rather than every job taken as delivered.
      return {
        status: 'completed',
        hasRecordFailures: batch.failed > 0 || batch.processed + batch.failed !== handle.rows,
        hasWarnings: batch.warned > 0,
      };
    case 'Failed':
      return {
        status: 'failed',
        retryable: isRetryableImportFailure(batch.message),
        reason: `Marketo import ${handle.batchId} failed: ${batch.message || 'no message given'}`,
      };
    default:
      // A status Marketo may add later: keep polling rather than guess an outcome.
      ctx.log.warn({ batchId: handle.batchId, status: batch.status }, 'unknown Marketo import status; polling on');
      return { status: 'in_progress' };
  }
}
