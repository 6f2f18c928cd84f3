/**
 * Splitting an upload into CSV files that each stay under a vendor's file-size limit (Marketo
 * 10 MB, Salesforce 100 MB), and sending them one by one.
 *
 * Parts are written to temporary files, streamed from the staging file row by row, so memory stays
 * flat however big the batch is; a file can also be sent twice (after a token refresh) and its
 * exact size is known before the request. Each row's size is measured CSV-encoded, exactly as
 * sent, because the staged JSON size is only an estimate.
 */
import { once } from 'node:events';
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'csv-stringify/sync';
import type { Logger } from 'pino';
import type { ImportHandle, JobOutcome, JsonObject, UploadBatch, UploadResult } from '../../src/manager/contract.ts';
import { RetryableError, classify } from '../../src/manager/errors.ts';
import { correlationKey, type CsvRow } from './rows.ts';

export interface CsvPart {
  readonly path: string;
  /** Size of the file, header included. */
  bytes: number;
  readonly jobs: Array<{ jobId: string; correlationKey: string }>;
}

export interface CsvParts {
  readonly parts: CsvPart[];
  /** Rows that alone, with the header, exceed the limit: they can never be sent. */
  readonly tooLarge: JobOutcome[];
  /** Removes the temporary files. */
  dispose(): Promise<void>;
}

/** One CSV record, `\n`-terminated, quoted only where needed (commas, quotes, line breaks). */
export function csvLine(cells: readonly string[]): string {
  return stringify([cells as string[]], { record_delimiter: 'unix' });
}

/** Writes the rows of `batch` as CSV files of at most `maxFileBytes` bytes each. */
export async function writeCsvParts(
  batch: UploadBatch<CsvRow>,
  columns: readonly string[],
  options: { maxFileBytes: number; vendor: string; limitField: string; rowKey?: (cells: readonly string[]) => string },
): Promise<CsvParts> {
  const rowKey = options.rowKey ?? correlationKey;
  const dir = await mkdtemp(join(tmpdir(), 'br-bulk-csv-'));
  const header = csvLine(columns);
  const headerBytes = Buffer.byteLength(header);
  const parts: CsvPart[] = [];
  const tooLarge: JobOutcome[] = [];
  let out: WriteStream | undefined;
  const close = async () => {
    if (!out) return;
    out.end();
    await once(out, 'close');
    out = undefined;
  };
  try {
    for await (const { jobId, row } of batch.rows()) {
      const line = csvLine(row);
      const bytes = Buffer.byteLength(line);
      if (headerBytes + bytes > options.maxFileBytes) {
        tooLarge.push({
          jobId,
          kind: 'aborted',
          reason: `row is ${bytes} bytes as CSV, more than fits in one ${options.vendor} file of ${options.maxFileBytes} bytes ("${options.limitField}")`,
        });
        continue;
      }
      let part = parts.at(-1);
      if (!out || !part || part.bytes + bytes > options.maxFileBytes) {
        await close();
        part = { path: join(dir, `part-${parts.length + 1}.csv`), bytes: headerBytes, jobs: [] };
        parts.push(part);
        out = createWriteStream(part.path);
        out.write(header);
      }
      part.bytes += bytes;
      part.jobs.push({ jobId, correlationKey: rowKey(row) });
      if (!out.write(line)) await once(out, 'drain');
    }
  } finally {
    await close();
  }
  return { parts, tooLarge, dispose: () => rm(dir, { recursive: true, force: true }) };
}

/** What every bulk CSV import handle carries besides the vendor's id (`batchId`, `jobId`). */
export interface CsvPartHandle extends JsonObject {
  /** Rows in the file, for progress and to spot rows the vendor never processed. */
  rows: number;
  /** The CSV header as sent: result files are matched on these columns, even if `fieldMapping` changed since. */
  columns: string[];
  /** 1-based position among the files of its upload, for messages. */
  part: number;
  parts: number;
}

export interface PartsUpload {
  /** Names the vendor in messages: "Marketo". */
  readonly vendor: string;
  readonly columns: readonly string[];
  readonly maxFileBytes: number;
  /** The correlation key of a row's cells; default `correlationKey`. Result rows must be keyed the same way. */
  readonly rowKey?: (cells: readonly string[]) => string;
  readonly signal: AbortSignal;
  readonly log: Logger;
  /** Creates the vendor import of one file; returns the vendor's id fields, which join the handle. */
  create(part: CsvPart, index: number): Promise<JsonObject>;
}

/**
 * The upload of a bulk CSV manager: the batch as files under `maxFileBytes`, one vendor import per
 * file, every job accounted for exactly once (rows too large for any file are aborted).
 */
export async function uploadInParts(batch: UploadBatch<CsvRow>, options: PartsUpload): Promise<UploadResult> {
  if (batch.jobIds.length === 0) return { outcomes: [] };
  // Checked before any work: a shutdown must not start an import nobody will record.
  if (options.signal.aborted) throw new RetryableError(`upload to ${options.vendor} cancelled (shutdown or call deadline) before anything was sent`);
  const columns = [...options.columns];
  const split = await writeCsvParts(batch, columns, {
    maxFileBytes: options.maxFileBytes,
    vendor: options.vendor,
    limitField: 'maxFileBytes',
    ...(options.rowKey ? { rowKey: options.rowKey } : {}),
  });
  try {
    const parts = split.parts.length;
    const sent = await sendParts(split.parts, async (part, index) => {
      const ids = await options.create(part, index);
      const handle: CsvPartHandle = { ...ids, rows: part.jobs.length, columns, part: index + 1, parts };
      options.log.debug({ ...ids, rows: part.jobs.length, bytes: part.bytes, part: index + 1, parts }, `${options.vendor} import created`);
      return handle;
    });
    return { outcomes: [...split.tooLarge, ...sent.outcomes], imports: sent.imports };
  } finally {
    await split.dispose();
  }
}

/**
 * Sends each part with `create` and accounts for every job exactly once.
 *
 * A failure before any import exists is rethrown, so the router retries, snoozes or aborts the
 * whole upload as one (same upload id, attempt refunded on a snooze). After some part was
 * accepted, rethrowing would make the router resend that part too (a duplicate import), so the
 * unsent parts' jobs get the failure's verdict as outcomes instead, and nothing more is sent.
 */
async function sendParts(
  parts: readonly CsvPart[],
  create: (part: CsvPart, index: number) => Promise<ImportHandle['handle']>,
): Promise<{ outcomes: JobOutcome[]; imports: ImportHandle[] }> {
  const imports: ImportHandle[] = [];
  const outcomes: JobOutcome[] = [];
  for (const [index, part] of parts.entries()) {
    try {
      imports.push({ handle: await create(part, index), jobs: part.jobs });
    } catch (error) {
      if (imports.length === 0) throw error;
      const verdict = classify(error);
      for (const { jobId } of parts.slice(index).flatMap((p) => p.jobs)) outcomes.push(outcomeOf(jobId, verdict));
      break;
    }
  }
  return { outcomes, imports };
}

/** A whole-call failure as one job's outcome. */
export function outcomeOf(jobId: string, failure: ReturnType<typeof classify>): JobOutcome {
  switch (failure.action) {
    case 'snooze':
      return { jobId, kind: 'snooze', reason: failure.message, retryAfterMs: failure.retryAfterMs ?? 0 };
    case 'retry':
      return { jobId, kind: 'retry', reason: failure.message, ...(failure.retryAfterMs !== undefined ? { retryAfterMs: failure.retryAfterMs } : {}) };
    default:
      return { jobId, kind: 'aborted', reason: failure.message };
  }
}
