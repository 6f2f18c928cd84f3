/**
 * From staged rows to file bytes: the per-event transform, the CSV/NDJSON line encoders, and the
 * split of one upload into parts by rows and bytes. The CSV rules (dotted columns, cell text) are
 * local-files' (`../local-files/csv.ts`), so a partner reading both drops sees the same CSV.
 */
import { stringify } from 'csv-stringify/sync';
import type { JsonObject, StagedRow, TransformInput } from '../../src/manager/contract.ts';
import { PermanentError } from '../../src/manager/errors.ts';
import { cellText, collectColumns, flatten } from '../local-files/csv.ts';
import type { SftpConfig } from './config.ts';

/** Chunks handed to the SFTP stream: one SFTP WRITE request per row would be slow. */
const CHUNK_BYTES = 64 * 1024;

/**
 * NDJSON keeps the event as enqueued; CSV flattens it here, so an event with two values for one
 * column (`{"a.b": 1, "a": {"b": 2}}`) fails alone at transform time rather than the whole file.
 */
export function toRow({ event }: TransformInput, config: SftpConfig): JsonObject {
  const value: unknown = event;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    const got = value === null ? 'null' : Array.isArray(value) ? 'an array' : `a ${typeof value}`;
    throw new PermanentError(`event must be a JSON object to become a ${config.format} row, but it is ${got}`);
  }
  return config.format === 'csv' ? flatten(event, true) : event;
}

/** Text of one file: `header` once at the top of every part, then `encode(row)` per row. */
export interface RowEncoder {
  readonly header: string;
  encode(row: JsonObject): string;
}

/**
 * The encoder for a batch. CSV without configured `columns` reads the batch once for the sorted
 * union of its columns, so every part of one upload carries the same header.
 */
export async function rowEncoder(config: SftpConfig, rows: () => AsyncIterable<StagedRow<JsonObject>>): Promise<RowEncoder> {
  if (config.format === 'ndjson') return { header: '', encode: (row) => `${JSON.stringify(row)}\n` };
  const columns = config.columns ? [...config.columns] : await collectColumns(rows());
  return {
    header: csvLine(columns),
    encode: (row) => {
      const flat = flatten(row, false);
      return csvLine(columns.map((column) => cellText(flat[column])));
    },
  };
}

/** One CSV record, `\n`-terminated; csv-stringify quotes cells with commas, quotes or line breaks. */
function csvLine(cells: readonly string[]): string {
  return stringify([cells], { record_delimiter: 'unix' });
}

/** One file of an upload. */
export interface Part {
  /** 1-based, as rendered by {part}. */
  readonly number: number;
  /** Jobs whose rows are in this part; complete once `chunks` has been read to the end. */
  readonly jobIds: string[];
  /** The part's bytes before compression. Read it to the end (or skip it) before the next part. */
  readonly chunks: AsyncGenerator<Buffer>;
}

export interface PartLimits {
  readonly maxRows?: number;
  readonly maxBytes?: number;
}

/**
 * Splits rows into parts, streaming: a part ends when the next row would break `maxRows` or
 * `maxBytes` (header included). A part always takes at least one row, so a single row larger than
 * `maxBytes` gets a part of its own rather than being dropped. Deterministic for the same rows and
 * config, which is what lets a retry recognise the parts an earlier attempt already published.
 */
export async function* splitParts(
  rows: AsyncIterable<StagedRow<JsonObject>>,
  encoder: RowEncoder,
  limits: PartLimits,
): AsyncGenerator<Part> {
  const iterator = rows[Symbol.asyncIterator]();
  const read = async () => {
    const next = await iterator.next();
    return next.done ? undefined : { jobId: next.value.jobId, line: encoder.encode(next.value.row) };
  };
  const headerBytes = Buffer.byteLength(encoder.header);
  let lookahead = await read();
  for (let number = 1; lookahead !== undefined; number += 1) {
    const jobIds: string[] = [];
    let finished = false;
    async function* chunks(): AsyncGenerator<Buffer> {
      let text = encoder.header;
      let bytes = headerBytes;
      let pendingBytes = headerBytes;
      while (lookahead !== undefined) {
        const lineBytes = Buffer.byteLength(lookahead.line);
        const full =
          jobIds.length > 0 &&
          ((limits.maxRows !== undefined && jobIds.length >= limits.maxRows) ||
            (limits.maxBytes !== undefined && bytes + lineBytes > limits.maxBytes));
        if (full) break;
        text += lookahead.line;
        bytes += lineBytes;
        pendingBytes += lineBytes;
        jobIds.push(lookahead.jobId);
        if (pendingBytes >= CHUNK_BYTES) {
          yield Buffer.from(text);
          text = '';
          pendingBytes = 0;
        }
        lookahead = await read();
      }
      if (text.length > 0) yield Buffer.from(text);
      finished = true;
    }
    const part: Part = { number, jobIds, chunks: chunks() };
    yield part;
    // Asking for the next part before this one was read to the end would cut it short silently.
    if (!finished) throw new Error(`part ${number} was not read to the end before the next one was asked for`);
  }
}
