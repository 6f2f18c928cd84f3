/**
 * One upload: its rows split into parts, each part published (publish.ts) over one connection,
 * then the optional `.done` marker. Every name comes from the upload id and creation time, so a
 * retry (the router's, or the one reconnect made here after a dropped connection) finds what an
 * earlier attempt left: it removes that attempt's temporary files, skips the parts already
 * published, and carries on, leaving neither duplicates nor partial files.
 */
import { posix } from 'node:path';
import type { Logger } from 'pino';
import type { CallContext, JsonObject, UploadBatch, UploadResult } from '../../src/manager/contract.ts';
import { allSucceeded } from '../../src/manager/define.ts';
import { ConfigError, PermanentError, RetryableError, classify } from '../../src/manager/errors.ts';
import { ConnectionLostError } from './client/errors.ts';
import { Remote } from './client/remote.ts';
import { SftpSession } from './client/session.ts';
import type { SftpConfig } from './config.ts';
import { rowEncoder, splitParts, type RowEncoder } from './format.ts';
import { uploadNames, type UploadNames } from './path-template.ts';
import { publishFile, publishedSize, skip } from './publish.ts';

/** Everything one round of publishing needs; `published` collects the jobs of parts in place. */
interface Round {
  readonly batch: UploadBatch<JsonObject>;
  readonly config: SftpConfig;
  readonly names: UploadNames;
  readonly encoder: RowEncoder;
  /** Look for what an earlier attempt left behind (false on a first attempt: nothing can exist yet). */
  resume: boolean;
  readonly log: Logger;
  published: string[];
}

export async function uploadBatch(batch: UploadBatch<JsonObject>, ctx: CallContext<SftpConfig, SftpSession>): Promise<UploadResult> {
  // No rows, no file and no connection: an empty file would look like a real, if odd, delivery.
  if (batch.jobIds.length === 0) return { outcomes: [] };
  const { config, signal, log } = ctx;
  if (signal.aborted) throw new RetryableError('SFTP upload cancelled before it started (shutdown or upload deadline)');
  const { session } = ctx;
  const identity = { destinationId: batch.destinationId, uploadId: batch.uploadId, createdAt: batch.createdAt };
  const round: Round = {
    batch,
    config,
    names: uploadNames(config.pathTemplate, identity, config.gzip),
    encoder: await rowEncoder(config, () => batch.rows()),
    resume: batch.uploadAttempt > 1,
    log,
    published: [],
  };
  let connection = await session.acquire(signal);
  // Cancelling ends the connection, which fails whatever SFTP call is in flight at once.
  const onAbort = () => void connection.end();
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    for (let attempt = 1; ; attempt += 1) {
      round.published.length = 0;
      try {
        await publishUpload(new Remote(connection, signal), round);
        return allSucceeded(batch.jobIds);
      } catch (error) {
        if (!(error instanceof ConnectionLostError) || attempt > 1 || signal.aborted) throw error;
        log.warn({ error: error.message }, 'SFTP connection lost mid-upload; reconnecting once and resuming');
        await session.discard(connection);
        connection = await session.acquire(signal);
        round.resume = true; // the lost pass may have left partial and finished files
      }
    }
  } catch (error) {
    return settleFailure(error, round);
  } finally {
    signal.removeEventListener('abort', onAbort);
    if (connection.lost || signal.aborted) await session.discard(connection);
    else session.release(connection);
  }
}

/** One pass over the upload on one connection. */
async function publishUpload(remote: Remote, round: Round): Promise<void> {
  const { batch, config, names, log } = round;
  await remote.ensureDir(names.dir);
  const existing = round.resume ? await remote.files(names.dir) : new Map<string, number>();
  if (config.doneMarker && existing.has(posix.basename(names.markerPath))) {
    // The marker is written last, after every part was checked: nothing is left to do.
    round.published.push(...batch.jobIds);
    return;
  }
  for (const name of existing.keys()) {
    if (names.isOwnPartial(name)) await remote.remove(Remote.join(names.dir, name));
  }
  const inPlace = await partsInPlace(round, existing);
  const limits = { maxRows: config.maxRowsPerFile, maxBytes: config.maxBytesPerFile };
  const files: string[] = [];
  let bytes = 0;
  for await (const part of splitParts(batch.rows(), round.encoder, limits)) {
    const path = names.partPath(part.number);
    if (inPlace.has(part.number)) await skip(part.chunks);
    else bytes += await publishFile(remote, path, part.chunks, { gzip: config.gzip, atomic: config.atomicRename });
    files.push(posix.basename(path));
    round.published.push(...part.jobIds);
  }
  if (config.doneMarker) {
    const listing = (async function* () {
      yield Buffer.from(`${files.join('\n')}\n`);
    })();
    await publishFile(remote, names.markerPath, listing, { gzip: false, atomic: config.atomicRename });
  }
  log.info({ dir: names.dir, files: files.length, skipped: inPlace.size, bytes }, 'SFTP upload published');
}

/**
 * Parts an earlier attempt already published: a file under the part's name with exactly the size
 * this part has (parts are deterministic for the same rows and config). Costs a local pass over
 * the rows, and only when such a file exists, so no byte crosses the network twice.
 */
async function partsInPlace(round: Round, existing: ReadonlyMap<string, number>): Promise<Set<number>> {
  const found = new Set<number>();
  const { config, names } = round;
  // A shared inbox holds other uploads' files: only a file under one of our names needs the pass.
  if (![...existing.keys()].some((name) => names.isOwnFile(name))) return found;
  const limits = { maxRows: config.maxRowsPerFile, maxBytes: config.maxBytesPerFile };
  for await (const part of splitParts(round.batch.rows(), round.encoder, limits)) {
    const size = existing.get(posix.basename(names.partPath(part.number)));
    if (size === undefined) await skip(part.chunks);
    else if ((await publishedSize(part.chunks, config.gzip)) === size) found.add(part.number);
  }
  return found;
}

/**
 * A failure that will not go away. Without a `.done` marker the parts already in place are
 * delivered, so their jobs succeed and only the rest are aborted; with a marker the upload is
 * incomplete for the reader, so every job shares the failure. Anything retryable is rethrown:
 * the retry skips the parts already published.
 */
function settleFailure(error: unknown, round: Round): UploadResult {
  const final = error instanceof PermanentError || error instanceof ConfigError;
  if (!final || round.published.length === 0 || round.config.doneMarker) throw error;
  const published = new Set(round.published);
  const reason = classify(error).message;
  round.log.warn({ published: published.size, error: reason }, 'SFTP upload failed after some parts were published');
  return {
    outcomes: round.batch.jobIds.map((jobId) =>
      published.has(jobId) ? { jobId, kind: 'succeeded' as const } : { jobId, kind: 'aborted' as const, reason },
    ),
  };
}
