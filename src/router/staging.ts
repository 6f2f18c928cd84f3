/**
 * Staging files: the transformed rows of one upload, written once as NDJSON lines
 * `{"j":"<jobId>","r":<row>}` and streamed back to the manager as many times as it needs (a CSV
 * manager reads once for the header, once for the body). Keeps memory flat however big the batch.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { once } from 'node:events';
import type { StagedRow, UploadBatch } from '../manager/contract.ts';

export interface StagedEntry {
  readonly jobId: string;
  readonly row: unknown;
}

export interface StagingFile {
  readonly path: string;
  readonly jobIds: string[];
  readonly bytes: number;
}

/** Writes rows to `path`, honouring back-pressure; returns ids and the summed row bytes. */
export async function writeStagingFile(path: string, entries: Iterable<StagedEntry>): Promise<StagingFile> {
  await mkdir(dirname(path), { recursive: true });
  const out = createWriteStream(path);
  const jobIds: string[] = [];
  let bytes = 0;
  try {
    for (const { jobId, row } of entries) {
      const rowJson = JSON.stringify(row);
      bytes += Buffer.byteLength(rowJson);
      jobIds.push(jobId);
      if (!out.write(`{"j":${JSON.stringify(jobId)},"r":${rowJson}}\n`)) await once(out, 'drain');
    }
  } finally {
    out.end();
    await once(out, 'close');
  }
  return { path, jobIds, bytes };
}

/**
 * Streams rows back from a staging file. Each row keeps its JSON text (`json`) and is parsed only
 * when a manager reads `row`: a manager that sends JSON on as is (webhook) skips a parse and a
 * stringify per event, a third of its CPU per batch.
 */
export async function* readStagingFile<Row>(path: string): AsyncGenerator<StagedRow<Row>> {
  const lines = createInterface({ input: createReadStream(path), crlfDelay: Infinity });
  for await (const line of lines) {
    if (line.length === 0) continue;
    // Envelope written above: {"j":"<jobId>","r":<row>}. Job ids are digit strings, never escaped.
    const split = line.indexOf('","r":');
    const jobId = line.slice(6, split);
    const json = line.slice(split + 6, -1);
    let parsed: { value: Row } | undefined;
    yield {
      jobId,
      json,
      bytes: Buffer.byteLength(json),
      get row(): Row {
        parsed ??= { value: JSON.parse(json) as Row };
        return parsed.value;
      },
    };
  }
}

export function stagingPath(stagingDir: string, destinationId: string, uploadId: string): string {
  return join(stagingDir, encodeURIComponent(destinationId), `upload-${uploadId}.ndjson`);
}

export async function removeStagingFile(path: string): Promise<void> {
  await rm(path, { force: true });
}

/** The batch object a manager's `upload` receives. */
export function stagedBatch<Row>(
  file: StagingFile,
  ids: { uploadId: string; destinationId: string; uploadAttempt: number; createdAt?: number },
): UploadBatch<Row> {
  return {
    uploadId: ids.uploadId,
    destinationId: ids.destinationId,
    uploadAttempt: ids.uploadAttempt,
    // br_uploads.created_at: stable across retries, unlike the time of this attempt.
    createdAt: ids.createdAt,
    jobIds: file.jobIds,
    bytes: file.bytes,
    rows: () => readStagingFile<Row>(file.path),
  };
}
