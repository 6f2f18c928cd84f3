/**
 * Writes one upload as one file, atomically: the rows stream into a hidden `.<name>.partial` in
 * the same directory, which is fsynced and then renamed over the final name. A reader of the
 * directory sees either no file or the whole file, and a retry of the same upload (same name,
 * thanks to the required {uploadId}) replaces the earlier file instead of adding another.
 */
import type { FileHandle } from 'node:fs/promises';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { CallContext, JsonObject, StagedRow, UploadBatch } from '../../src/manager/contract.ts';
import { PermanentError, RetryableError, RouterError, describeError, toError } from '../../src/manager/errors.ts';
import { renderFileName, type LocalFilesConfig } from './config.ts';
import { collectColumns, csvRecords, csvStringifier } from './csv.ts';

/**
 * Failures a retry cannot fix without someone changing the disk or the config: no permission,
 * read-only or full file system, "directory" being a file. Anything else (EIO, EMFILE, a vanished
 * staging file) is retried.
 */
const PERMANENT_CODES = new Set(['EACCES', 'EPERM', 'EROFS', 'ENOSPC', 'EDQUOT', 'ENOTDIR', 'EISDIR', 'EEXIST', 'ENAMETOOLONG']);
/** NDJSON lines are gathered into writes of about this size: one write per row is slow. */
const CHUNK_CHARS = 64 * 1024;

/** Writes the batch to its final file and returns that file's absolute path. */
export async function writeUploadFile(batch: UploadBatch<JsonObject>, ctx: CallContext<LocalFilesConfig>): Promise<string> {
  const { config } = ctx;
  const directory = resolve(config.directory);
  const name = renderFileName(config.fileNameTemplate, {
    destinationId: batch.destinationId,
    uploadId: batch.uploadId,
    // The upload's creation time, not this attempt's, so a retry lands on the same name.
    timestampMs: String(batch.createdAt),
    ext: config.format,
  });
  const finalPath = join(directory, name);
  const partialPath = join(directory, `.${name}.partial`);
  if (ctx.signal.aborted) throw cancelled(finalPath, ctx.signal.reason);

  try {
    await mkdir(directory, { recursive: true });
    // CSV needs every column before the first line: one pass for the header, one for the body.
    const columns = config.format === 'csv' ? await collectColumns(batch.rows()) : [];
    const file = await open(partialPath, 'w', 0o644);
    try {
      if (config.format === 'csv') {
        await pipeline(csvRecords(columns, batch.rows()), csvStringifier(), fileSink(file), { signal: ctx.signal });
      } else {
        await pipeline(ndjsonChunks(batch.rows()), fileSink(file), { signal: ctx.signal });
      }
    } finally {
      await file.close();
    }
    await rename(partialPath, finalPath);
  } catch (thrown) {
    await rm(partialPath, { force: true }).catch(() => undefined);
    throw failure(thrown, { ctx, directory, finalPath });
  }
  await syncDirectory(directory);
  return finalPath;
}

/** NDJSON text in chunks of about CHUNK_CHARS, one row per line. */
async function* ndjsonChunks(rows: AsyncIterable<StagedRow<JsonObject>>): AsyncGenerator<string> {
  let chunk = '';
  for await (const { row } of rows) {
    chunk += `${JSON.stringify(row)}\n`;
    if (chunk.length >= CHUNK_CHARS) {
      yield chunk;
      chunk = '';
    }
  }
  if (chunk.length > 0) yield chunk;
}

/**
 * A writable over an open file that fsyncs in `final`, so the pipeline only resolves once the
 * bytes are durable: renaming an unsynced file can leave an empty file after a power cut.
 * (A FileHandle's own write stream with autoClose off never finishes the pipeline.)
 */
function fileSink(file: FileHandle): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, callback) {
      file.write(chunk).then(() => callback(), callback);
    },
    writev(chunks, callback) {
      file.writev(chunks.map(({ chunk }) => chunk as Buffer)).then(() => callback(), callback);
    },
    final(callback) {
      file.sync().then(() => callback(), callback);
    },
  });
}

/** Makes the rename itself durable. Best effort: some platforms cannot fsync a directory. */
async function syncDirectory(directory: string): Promise<void> {
  try {
    const handle = await open(directory, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // Windows and some network file systems refuse; the file itself was already synced.
  }
}

function cancelled(finalPath: string, reason: unknown): RetryableError {
  return new RetryableError(`writing ${finalPath} was cancelled (shutdown or call deadline)`, { cause: reason });
}

function failure(thrown: unknown, where: { ctx: CallContext<LocalFilesConfig>; directory: string; finalPath: string }): Error {
  if (where.ctx.signal.aborted) return cancelled(where.finalPath, thrown);
  if (thrown instanceof RouterError) return thrown;
  const error = toError(thrown) as NodeJS.ErrnoException;
  if (error.code && PERMANENT_CODES.has(error.code)) {
    return new PermanentError(
      `cannot write ${error.path ?? where.finalPath}: ${error.message}. ` +
        `Make "directory" (${where.directory}) a writable directory with free space, or point "directory" elsewhere`,
      { cause: error },
    );
  }
  return new RetryableError(`writing ${where.finalPath} failed: ${describeError(error)}`, { cause: error });
}
