/**
 * Staging: the transformed rows of one upload, kept once and streamed to the manager as many
 * times as it needs (a CSV manager reads once for the header, once for the body). A batch up to
 * the memory limit stays in memory (its payloads are in memory from the claim anyway); a bigger
 * one is written as NDJSON lines `{"j":"<jobId>","r":<row>}` to a file and streamed back, which
 * keeps memory flat however big the batch.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { once } from 'node:events';
import type { StagedRow, UploadBatch } from '../manager/contract.ts';

/** One row to stage: a transformed `row`, or the event's stored JSON text as the row (`json`). */
export type StagedEntry =
  | { readonly jobId: string; readonly row: unknown; readonly json?: undefined }
  | { readonly jobId: string; readonly json: string; readonly row?: undefined };

/**
 * Staged rows: in an NDJSON file at `path`, or (`path` null) as each row's JSON text in `memory`,
 * in `jobIds` order.
 */
export type StagingFile = { readonly jobIds: string[]; readonly bytes: number } & (
  | { readonly path: string; readonly memory?: undefined }
  | { readonly path: null; readonly memory: readonly string[] }
);

/**
 * Stages an upload's rows: in memory while their JSON totals at most `memoryLimitBytes`, else in
 * a file at `path`. Rows are serialised once either way.
 */
export async function stageRows(path: string, entries: readonly StagedEntry[], memoryLimitBytes: number): Promise<StagingFile> {
  const jobIds: string[] = [];
  const texts: string[] = [];
  let bytes = 0;
  for (const entry of entries) {
    const json = entry.json ?? JSON.stringify(entry.row);
    jobIds.push(entry.jobId);
    texts.push(json);
    bytes += Buffer.byteLength(json);
    if (bytes > memoryLimitBytes) {
      const serialised = texts.map((text, i): StagedEntry => ({ jobId: jobIds[i]!, json: text }));
      return writeStagingFile(path, serialised.concat(entries.slice(texts.length)));
    }
  }
  return { path: null, jobIds, bytes, memory: texts };
}

/** Lines are gathered into writes of about this many characters: a write per row costs more than the row. */
const WRITE_CHUNK_CHARS = 256 * 1024;
/** Bytes of a line's envelope around the row, job id excluded: `{"j":"` `","r":` `}\n`. */
const ENVELOPE_BYTES = 14;

/** Writes rows to `path`, honouring back-pressure; returns ids and the summed row bytes. */
export async function writeStagingFile(path: string, entries: Iterable<StagedEntry>): Promise<StagingFile> {
  await mkdir(dirname(path), { recursive: true });
  const out = createWriteStream(path);
  const jobIds: string[] = [];
  let bytes = 0;
  let chunk = '';
  let envelopeBytes = 0;
  const flush = async () => {
    const buffer = Buffer.from(chunk);
    // Job ids are ASCII digits, so the row bytes are the chunk's bytes less the envelopes'.
    bytes += buffer.length - envelopeBytes;
    chunk = '';
    envelopeBytes = 0;
    if (!out.write(buffer)) await once(out, 'drain');
  };
  try {
    for (const entry of entries) {
      const rowJson = entry.json ?? JSON.stringify(entry.row);
      jobIds.push(entry.jobId);
      chunk += `{"j":"${entry.jobId}","r":${rowJson}}\n`;
      envelopeBytes += ENVELOPE_BYTES + entry.jobId.length;
      if (chunk.length >= WRITE_CHUNK_CHARS) await flush();
    }
    if (chunk.length > 0) await flush();
  } finally {
    out.end();
    await once(out, 'close');
  }
  return { path, jobIds, bytes };
}

/**
 * Streams rows back from a staging file. Each row keeps its JSON text (`json`) and is parsed only
 * when a manager reads `row`: a manager that sends JSON on as is (webhook) never parses at all.
 */
export async function* readStagingFile<Row>(path: string): AsyncGenerator<StagedRow<Row>> {
  let rest = '';
  for await (const piece of createReadStream(path, { encoding: 'utf8', highWaterMark: WRITE_CHUNK_CHARS })) {
    const text = rest + (piece as string);
    let start = 0;
    for (let end = text.indexOf('\n'); end !== -1; end = text.indexOf('\n', start)) {
      if (end > start) yield StagedLine.fromLine<Row>(text.slice(start, end));
      start = end + 1;
    }
    rest = text.slice(start);
  }
  if (rest.length > 0) yield StagedLine.fromLine<Row>(rest);
}

/**
 * One line `{"j":"<jobId>","r":<row>}` as a StagedRow. Job ids are digit strings, never escaped.
 * A class, not an object literal with getters: a batch makes one per row, and closures per row
 * were a visible share of the garbage collector's work.
 */
class StagedLine<Row> implements StagedRow<Row> {
  #bytes = -1;
  #parsed: { value: Row } | undefined;

  constructor(
    readonly jobId: string,
    readonly json: string,
  ) {}

  static fromLine<Row>(line: string): StagedLine<Row> {
    const split = line.indexOf('","r":');
    return new StagedLine<Row>(line.slice(6, split), line.slice(split + 6, -1));
  }

  get bytes(): number {
    if (this.#bytes < 0) this.#bytes = Buffer.byteLength(this.json);
    return this.#bytes;
  }

  get row(): Row {
    this.#parsed ??= { value: JSON.parse(this.json) as Row };
    return this.#parsed.value;
  }
}

export function stagingPath(stagingDir: string, destinationId: string, uploadId: string): string {
  return join(stagingDir, encodeURIComponent(destinationId), `upload-${uploadId}.ndjson`);
}

export async function removeStagingFile(file: StagingFile): Promise<void> {
  if (file.path !== null) await rm(file.path, { force: true });
}

async function* memoryRows<Row>(jobIds: readonly string[], texts: readonly string[]): AsyncGenerator<StagedRow<Row>> {
  for (let i = 0; i < texts.length; i++) yield new StagedLine<Row>(jobIds[i]!, texts[i]!);
}

/** The batch object a manager's `upload` receives. */
export function stagedBatch<Row>(
  file: StagingFile,
  ids: { uploadId: string; destinationId: string; uploadAttempt: number; createdAt: number },
): UploadBatch<Row> {
  return {
    uploadId: ids.uploadId,
    destinationId: ids.destinationId,
    uploadAttempt: ids.uploadAttempt,
    // br_uploads.created_at: stable across retries, unlike the time of this attempt.
    createdAt: ids.createdAt,
    jobIds: file.jobIds,
    bytes: file.bytes,
    rows: () => (file.path === null ? memoryRows<Row>(file.jobIds, file.memory) : readStagingFile<Row>(file.path)),
  };
}
