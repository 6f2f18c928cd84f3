/**
 * Reading a vendor's per-row result file (Marketo failures/warnings, Salesforce failedResults /
 * unprocessedrecords) as a stream: records are parsed as they arrive and matched to jobs one by
 * one, so a result file of any size never sits in memory whole.
 *
 * A result row carries "the original columns" plus vendor columns (a reason, `sf__Id`...). The
 * original cells, taken in the order of the columns we sent, hash to the correlation key the job
 * got at upload time (see rows.ts).
 */
import { Readable } from 'node:stream';
import { parse } from 'csv-parse';
import type { ImportedJob, JsonObject } from '../../src/manager/contract.ts';
import { ERROR_CODES } from '../../src/manager/error-codes.ts';
import { RetryableError, describeError, toError } from '../../src/manager/errors.ts';
import type { CsvPartHandle } from './csv-parts.ts';
import { correlationKey } from './rows.ts';

/**
 * A persisted handle read back: undefined when it lacks the vendor id (`idKey`, checked by
 * `isId`) or the columns, i.e. it is garbage or belongs to another manager.
 */
export function partHandle<H extends CsvPartHandle>(handle: JsonObject, idKey: keyof H & string, isId: (value: unknown) => boolean): H | undefined {
  const { rows, columns } = handle;
  if (!isId(handle[idKey]) || typeof rows !== 'number') return undefined;
  if (!Array.isArray(columns) || !columns.every((c) => typeof c === 'string')) return undefined;
  return handle as H;
}

/** Why a handle `partHandle` refused cannot be followed, for a failed poll or a PermanentError. */
export function unusableHandle(vendor: string, idKey: string): string {
  return `not a ${vendor} import handle (no ${idKey} and columns); it cannot be followed`;
}

export interface ResultRow {
  /** Correlation key of the original cells. */
  readonly key: string;
  /** The columns that are not ours (reason, `sf__Error`...), by name. */
  readonly extra: Readonly<Record<string, string>>;
}

export interface ResultRowOptions {
  /** Key of the original cells; default `correlationKey`. Must be the one the upload used. */
  readonly rowKey?: (cells: readonly string[]) => string;
  /** Also ignore spaces around header names (case is always ignored when no name matches exactly). */
  readonly looseHeader?: boolean;
}

/**
 * Parses a CSV body whose header names `columns` (in any order, among others) and yields one
 * `ResultRow` per record. A column of ours the file lacks reads as empty, which makes its rows
 * unmatched rather than wrongly matched.
 *
 * A body that ends early (connection reset mid-file) or is not CSV (broken quoting) is a
 * `RetryableError`: the file is read again later, and a half-read file is never taken as the whole
 * listing. `pipe` alone would leave the body's read error without a listener (an uncaught
 * exception, and a parser waiting forever), so the error is handed to the parser here.
 */
export async function* resultRows(body: ReadableStream<Uint8Array>, columns: readonly string[], options: ResultRowOptions = {}): AsyncGenerator<ResultRow> {
  const rowKey = options.rowKey ?? correlationKey;
  const name = options.looseHeader ? (text: string) => text.trim().toLowerCase() : (text: string) => text.toLowerCase();
  const source = Readable.fromWeb(body as import('node:stream/web').ReadableStream<Uint8Array>);
  // `bom`: vendors may prefix UTF-8 files with one; `relax_column_count`: a short last line must
  // not fail the whole file.
  const parser = parse({ bom: true, relax_column_count: true, skip_empty_lines: true });
  let readFailure: unknown;
  source.on('error', (error) => {
    readFailure = error;
    parser.destroy(error);
  });
  source.pipe(parser);
  let indexes: number[] | undefined;
  let extraColumns: Array<[string, number]> = [];
  let records = 0;
  try {
    for await (const record of parser as AsyncIterable<string[]>) {
      records += 1;
      if (!indexes) {
        // Field names are case-insensitive to the vendors (Salesforce; Marketo writes its own
        // case, and with looseHeader its own spacing): an exact match wins.
        const header = record.map(name);
        indexes = columns.map((column) => (record.includes(column) ? record.indexOf(column) : header.indexOf(name(column))));
        const ours = new Set(indexes);
        extraColumns = record.map((column, index) => [column, index] as [string, number]).filter(([, index]) => !ours.has(index));
        continue;
      }
      const cells = indexes.map((index) => (index >= 0 ? record[index] ?? '' : ''));
      const extra = Object.fromEntries(extraColumns.map(([name, index]) => [name, record[index] ?? '']));
      yield { key: rowKey(cells), extra };
    }
  } catch (thrown) {
    throw unreadable(thrown, readFailure !== undefined, records);
  } finally {
    parser.destroy();
    source.destroy();
  }
}

/** The typed error for a result file that could not be read to its end. */
function unreadable(thrown: unknown, endedEarly: boolean, records: number): RetryableError {
  const why = describeError(toError(thrown));
  return endedEarly
    ? new RetryableError(`the vendor's result file ended after ${records} records, before it was complete: ${why}`, { cause: thrown, code: ERROR_CODES.vendorUnavailable })
    : new RetryableError(`the vendor's result file is not valid CSV after ${records} records: ${why}`, { cause: thrown, code: ERROR_CODES.badVendorResponse });
}

/**
 * Jobs of an import by correlation key. Identical rows share a key, so each key holds a queue:
 * every matching result row takes the next job, and k failed copies of a row fail k of its jobs.
 */
export class JobMatcher {
  readonly #byKey = new Map<string, string[]>();
  /** Result rows no job was left for: a vendor echoing a row differently, or a stale handle. */
  unmatched = 0;

  constructor(jobs: readonly ImportedJob[]) {
    for (const job of jobs) {
      if (job.correlationKey === null) continue;
      const queue = this.#byKey.get(job.correlationKey);
      if (queue) queue.push(job.jobId);
      else this.#byKey.set(job.correlationKey, [job.jobId]);
    }
  }

  /** The next job with this key, or undefined (counted in `unmatched`). */
  take(key: string): string | undefined {
    const jobId = this.#byKey.get(key)?.shift();
    if (jobId === undefined) this.unmatched += 1;
    return jobId;
  }
}
