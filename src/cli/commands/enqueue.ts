/**
 * `batch-router enqueue <destinationId> [file|-]`: NDJSON in, jobs out. The input is streamed and
 * inserted in batches, one transaction each, because validating a stream of unknown length before
 * inserting would mean holding it all. The price: a bad line stops the run part-way, so the
 * message says exactly which lines made it in and how to send the rest.
 */
import { randomUUID } from 'node:crypto';
import { open } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { findLiveDaemon } from '../../db/embedded.ts';
import { insertJobs, type IdRange } from '../../store/jobs.repository.ts';
import { DESTINATION_ID_PATTERN } from '../../destinations.ts';
import { intakeRefusal } from '../../destination-intake.ts';
import { optFlag, optSeconds, optString } from '../args.ts';
import { CliError, EXIT, UsageError, type CliContext, type Command } from '../command.ts';
import { describeError } from '../context.ts';
import { explainDatabaseError, withDatabase } from '../database.ts';
import { addIds, formatRanges } from '../id-ranges.ts';
import { IngestProgress } from '../enqueue-progress.ts';
import { NdjsonLineError, readAhead, readNdjsonBatches, type NdjsonBatch } from '../ndjson.ts';
import { plural, printJson } from '../output.ts';
import { waitForJobs } from '../progress.ts';
import { checkedDestinationId } from './destinations.ts';

/** 5,000 rows keep one INSERT well under a second; 8 MiB bounds it when events are large. */
const BATCH = { maxEvents: 5000, maxBytes: 8 * 1024 * 1024 };

export const enqueueCommand: Command = {
  name: 'enqueue',
  async run(input, ctx) {
    const destinationId = input.positionals[0]!;
    if (!DESTINATION_ID_PATTERN.test(destinationId)) {
      throw new UsageError(`"${destinationId}" is not a destination id: ids hold letters, digits, ".", "_" and "-"`);
    }
    const source = input.positionals[1] ?? '-';
    const wait = optFlag(input, 'wait');
    const timeoutMs = optSeconds(input, 'timeout');
    if (timeoutMs !== undefined && !wait) throw new UsageError('--timeout only applies together with --wait');
    const submissionId = optString(input, 'submission') ?? `cli-${randomUUID()}`;
    if (submissionId.length > 200) throw new UsageError('--submission must be at most 200 characters');
    const json = optFlag(input, 'json');

    await checkAccepting(ctx, destinationId, optFlag(input, 'force'));
    await checkSomeoneDelivers(ctx, wait);
    const events = await openInput(ctx, source);

    return withDatabase(ctx, async (db, handle) => {
      const ranges: IdRange[] = [];
      let enqueued = 0;
      let lastLine = 0;
      let current: NdjsonBatch | undefined;
      const sofar = () => alreadyEnqueued(enqueued, ranges, lastLine, source, destinationId, submissionId);
      const progress = new IngestProgress(ctx, events);
      try {
        for await (const batch of readAhead(readNdjsonBatches(events.stream, BATCH))) {
          current = batch;
          const ids = await db.transaction().execute((trx) => insertJobs(trx, destinationId, batch.events, submissionId));
          addIds(ranges, ids);
          enqueued += ids.length;
          lastLine = batch.lastLine;
          progress.update(enqueued);
        }
        progress.finish();
      } catch (error) {
        progress.finish();
        if (error instanceof NdjsonLineError) {
          ctx.note(`batch-router: ${error.message}`);
          ctx.note(sofar());
          return EXIT.usage;
        }
        const explained = explainDatabaseError(error, handle.displayUrl, ctx.config());
        const where = current ? ` while inserting lines ${current.firstLine}–${current.lastLine}` : '';
        throw new CliError(`enqueue failed${where}: ${describeError(explained)}\n${sofar()}`, EXIT.failure, { cause: error });
      }

      const summary = `enqueued ${plural(enqueued, 'job')} to ${destinationId}${enqueued > 0 ? `: ${formatRanges(ranges)}` : ''}`;
      if (!json) {
        ctx.print(summary);
        if (enqueued > 0) ctx.note(`submission ${submissionId} (for "batch-router jobs --submission ${submissionId}")`);
      }
      const result = { destinationId, submissionId, enqueued, ranges };
      if (!wait || enqueued === 0) {
        if (json) printJson(ctx, result);
        return EXIT.ok;
      }

      const waited = await waitForJobs(db, ctx, { destinationId, ranges, total: enqueued, timeoutMs });
      const { counts } = waited;
      if (json) printJson(ctx, { ...result, counts, finished: waited.done });
      const failed = counts.aborted + counts.cancelled;
      const follow = `batch-router jobs --submission ${submissionId}`;
      if (!waited.done) {
        const final = counts.succeeded + failed;
        ctx.note(`gave up waiting after ${timeoutMs! / 1000}s: ${final} of ${enqueued} jobs are final. They carry on; follow them with "${follow}".`);
        return EXIT.timeout;
      }
      if (failed === 0) {
        if (!json) ctx.print(`all ${plural(counts.succeeded, 'job')} succeeded`);
        return EXIT.ok;
      }
      if (!json) {
        ctx.print(`${counts.succeeded} succeeded, ${counts.aborted} aborted, ${counts.cancelled} cancelled`);
        ctx.note(`see why with "${follow} --state aborted,cancelled"; requeue aborted ones with "batch-router retry --id <ids>"`);
      }
      return EXIT.someFailed;
    });
  },
};

/**
 * Refuses, before reading any input, a destination the API would answer 409 for (same rule:
 * destination-intake.ts). `--force` only admits ids missing from the destinations file, whose
 * jobs wait until it is configured; it never admits an entry the daemon would abort or ignore.
 */
async function checkAccepting(ctx: CliContext, destinationId: string, force: boolean): Promise<void> {
  const destination = force
    ? await checkedDestinationId(ctx, destinationId, { force: true })
    : await checkedDestinationId(ctx, destinationId, { force: false, forceHint: true });
  const refusal = destination && intakeRefusal(destination);
  if (!refusal) return;
  const problem = refusal.problem ? `\nproblem: ${refusal.problem}` : '';
  throw new CliError(`${refusal.message}.${problem}\nNothing was enqueued.`, EXIT.usage);
}

/**
 * In embedded mode without a daemon, this process would open the data directory itself: nobody
 * would deliver the jobs, and holding the directory would keep a daemon from starting. So --wait
 * is refused up front, before anything is enqueued.
 */
async function checkSomeoneDelivers(ctx: CliContext, wait: boolean): Promise<void> {
  const config = ctx.config();
  if (!wait || config.databaseUrl || (await findLiveDaemon(config.dataDir))) return;
  throw new CliError(
    `--wait needs a running daemon to deliver the jobs, and none is serving the embedded database in ${config.dataDir}. ` +
      'Start one first with "batch-router start" (same BATCH_ROUTER_DATA_DIR), or enqueue without --wait.',
    EXIT.failure,
  );
}

/** The input stream, with what progress needs to know about it. */
interface Input {
  stream: Readable;
  /** The file's size; undefined for stdin. */
  totalBytes: number | undefined;
  bytesRead: () => number;
}

async function openInput(ctx: CliContext, source: string): Promise<Input> {
  const counted = (stream: Readable, totalBytes: number | undefined): Input => ({
    stream,
    totalBytes,
    // fs.ReadStream and a piped stdin (net.Socket) both count what they read.
    bytesRead: () => (stream as Readable & { bytesRead?: number }).bytesRead ?? 0,
  });
  if (source === '-') {
    if (ctx.stdin.isTTY) {
      throw new UsageError('no input: name an NDJSON file, or pipe events in (batch-router enqueue <destinationId> - < events.ndjson)');
    }
    return counted(ctx.stdin, undefined);
  }
  try {
    const file = await open(source, 'r');
    const stat = await file.stat();
    if (stat.isDirectory()) {
      await file.close();
      throw new UsageError(`"${source}" is a directory: name an NDJSON file`);
    }
    return counted(file.createReadStream({ encoding: 'utf8' }), stat.size);
  } catch (error) {
    if (error instanceof UsageError) throw error;
    throw new UsageError(`cannot read "${source}": ${describeError(error)}`);
  }
}

/** What made it in before a failure, and how to send the rest without duplicating anything. */
function alreadyEnqueued(
  enqueued: number,
  ranges: readonly IdRange[],
  lastLine: number,
  source: string,
  destinationId: string,
  submissionId: string,
): string {
  if (enqueued === 0) return 'Nothing was enqueued. Fix the line and run the same command again.';
  const rest = source === '-' ? 'the input' : `"${source}"`;
  const command = source === '-' ? '<input>' : `tail -n +${lastLine + 1} ${JSON.stringify(source)}`;
  return (
    `${plural(enqueued, 'job')} from lines 1–${lastLine} of ${rest} were already enqueued ` +
    `(${formatRanges(ranges)}, submission ${submissionId}); nothing from line ${lastLine + 1} on. ` +
    `After fixing it, enqueue the rest with: ${command} | batch-router enqueue ${destinationId} - --submission ${submissionId}`
  );
}
