/**
 * Publishing one file so that a reader of the remote directory sees it whole or not at all: the
 * bytes go to a hidden `.<name>.partial`, the server's size of it is compared with what was sent
 * (a short file must never be renamed into place), and only then is it renamed to its final name.
 * With `atomicRename: false` the file is written under its final name directly (and still checked).
 */
import { Readable, Transform, Writable, pipeline } from 'node:stream';
import { pipeline as pipelineAsync } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { RetryableError } from '../../src/manager/errors.ts';
import type { Remote } from './client/remote.ts';
import { partialPath } from './path-template.ts';

export interface FileOptions {
  readonly gzip: boolean;
  readonly atomic: boolean;
}

/** Writes `chunks` as `finalPath`; returns the bytes the file has on the server. */
export async function publishFile(remote: Remote, finalPath: string, chunks: AsyncIterable<Buffer>, options: FileOptions): Promise<number> {
  const target = options.atomic ? partialPath(finalPath) : finalPath;
  let sent = 0;
  const source = Readable.from(chunks, { objectMode: false });
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      sent += chunk.length;
      callback(null, chunk);
    },
  });
  // pipeline forwards a failure of any stage to the body the SFTP client reads, which then fails
  // the write; the callback only has to exist (the write reports the error).
  const ignore = () => undefined;
  const body = options.gzip ? pipeline(source, createGzip(), counter, ignore) : pipeline(source, counter, ignore);
  try {
    await remote.write(target, body);
  } catch (error) {
    // Leave no torn file behind when the server is still there to remove it; after a dropped
    // connection the next attempt removes it instead (stale partials of the upload go first).
    if (!remote.connection.lost) await remote.remove(target).catch(ignore);
    throw error;
  } finally {
    source.destroy(); // stops reading the staging file if the write ended early
  }
  const size = await remote.size(target);
  if (size !== sent) {
    await remote.remove(target).catch(ignore);
    throw new RetryableError(`${target} has ${size} bytes on the server after ${sent} were sent; the upload is retried`);
  }
  if (options.atomic) {
    await renameIntoPlace(remote, target, finalPath).catch(async (error: unknown) => {
      // A refused rename is not retried (see renameFailure): nobody else would remove the file.
      if (!remote.connection.lost) await remote.remove(target).catch(ignore);
      throw error;
    });
  }
  return sent;
}

/**
 * Renames the checked temporary file to its final name. SFTP v3 rename does not replace an
 * existing file, and a file under this upload's name can only be an earlier copy of the same part
 * (the name holds the upload id) that no longer matches, so it is removed and the rename repeated.
 */
async function renameIntoPlace(remote: Remote, from: string, to: string): Promise<void> {
  try {
    await remote.rename(from, to);
  } catch (error) {
    if (remote.connection.lost || !(await remote.exists(to))) throw error;
    await remote.remove(to);
    await remote.rename(from, to);
  }
}

/** The bytes `chunks` would have on the server, without sending them: used to recognise a part published before. */
export async function publishedSize(chunks: AsyncIterable<Buffer>, gzip: boolean): Promise<number> {
  let bytes = 0;
  const count = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      bytes += chunk.length;
      callback();
    },
  });
  const source = Readable.from(chunks, { objectMode: false });
  await (gzip ? pipelineAsync(source, createGzip(), count) : pipelineAsync(source, count));
  return bytes;
}

/** Reads `chunks` to the end without using them: a part that is already on the server. */
export async function skip(chunks: AsyncIterable<Buffer>): Promise<void> {
  for await (const chunk of chunks) void chunk;
}
