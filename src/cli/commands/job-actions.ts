/**
 * Operator actions on many jobs at once: `retry` (aborted → waiting) and `cancel` (waiting →
 * cancelled). Both are one set-based UPDATE guarded by state, so running one twice is harmless.
 * Both refuse to act on every job in the database unless told so with --all: an empty filter is
 * more often a forgotten flag than a wish.
 */
import { countMatchingByState, cancelJobs, requeueAborted, type JobSelector } from '../../store/jobs.maintenance.ts';
import { optDate, optFlag, optList, optString, parseId } from '../args.ts';
import { EXIT, UsageError, type Command, type ParsedInput } from '../command.ts';
import { withDatabase } from '../database.ts';
import { addIds, formatRanges } from '../id-ranges.ts';
import { plural, printJson } from '../output.ts';

function ids(input: ParsedInput): string[] | undefined {
  const list = optList(input, 'id').map((id) => parseId(id, '--id'));
  return list.length > 0 ? [...new Set(list)] : undefined;
}

function requireFilter(selector: JobSelector, input: ParsedInput, verb: string, flags: string): void {
  const filtered = Object.values(selector).some((value) => value !== undefined);
  if (!filtered && !optFlag(input, 'all')) {
    throw new UsageError(`refusing to ${verb} without a filter: narrow it with ${flags}, or pass --all to mean every job`);
  }
}

export const retryCommand: Command = {
  name: 'retry',
  help: `batch-router retry [--destination D] [--id ID...] [--reason-contains TEXT] [--since ISO] [--until ISO] [--all] [--json]

Puts aborted jobs back to waiting with a fresh attempt budget; their abort reason is kept as last
error. At least one filter is required, or --all.

options:
  --destination <id>        only this destination
  --id <id>                 only these jobs (repeat, or comma-separate)
  --reason-contains <text>  only jobs whose abort reason contains this text (case-insensitive)
  --since <iso>             only jobs aborted at or after this time (e.g. 2026-11-22T08:00:00Z)
  --until <iso>             only jobs aborted before this time
  --all                     every aborted job
  --json                    print {requeued, ids}`,
  options: {
    destination: { type: 'string' },
    id: { type: 'string', multiple: true },
    'reason-contains': { type: 'string' },
    since: { type: 'string' },
    until: { type: 'string' },
    all: { type: 'boolean' },
    json: { type: 'boolean' },
  },
  positionals: [0, 0],
  async run(input, ctx) {
    const selector: JobSelector = {
      destinationId: optString(input, 'destination'),
      ids: ids(input),
      reasonContains: optString(input, 'reason-contains'),
      finishedAfter: optDate(input, 'since'),
      finishedBefore: optDate(input, 'until'),
    };
    requireFilter(selector, input, 'requeue', '--destination, --id, --reason-contains, --since or --until');
    return withDatabase(ctx, async (db) => {
      const requeued = await requeueAborted(db, selector);
      if (optFlag(input, 'json')) printJson(ctx, { requeued: requeued.length, ids: requeued });
      else if (requeued.length === 0) ctx.print('no aborted jobs matched; nothing was requeued');
      else ctx.print(`requeued ${plural(requeued.length, 'aborted job')}: ${formatRanges(addIds([], requeued))}`);
      return EXIT.ok;
    });
  },
};

export const cancelCommand: Command = {
  name: 'cancel',
  help: `batch-router cancel [--id ID...] [--destination D] [--submission S] [--reason TEXT] [--all] [--json]

Cancels matching jobs that are still waiting. Jobs already handed to the vendor (executing,
importing) cannot be recalled and finish on their own; final ones stay as they are. Both are
counted in the report. At least one filter is required, or --all.

options:
  --id <id>             only these jobs (repeat, or comma-separate)
  --destination <id>    only this destination
  --submission <id>     only jobs of this submission
  --reason <text>       reason recorded on the cancelled jobs (default "cancelled with batch-router cancel")
  --all                 every waiting job
  --json                print {cancelled, ids, inFlight, alreadyFinal, notFound}`,
  options: {
    id: { type: 'string', multiple: true },
    destination: { type: 'string' },
    submission: { type: 'string' },
    reason: { type: 'string' },
    all: { type: 'boolean' },
    json: { type: 'boolean' },
  },
  positionals: [0, 0],
  async run(input, ctx) {
    const selector: JobSelector = {
      ids: ids(input),
      destinationId: optString(input, 'destination'),
      submissionId: optString(input, 'submission'),
    };
    requireFilter(selector, input, 'cancel', '--id, --destination or --submission');
    const reason = optString(input, 'reason') ?? 'cancelled with batch-router cancel';
    return withDatabase(ctx, async (db) => {
      const cancelled = await cancelJobs(db, selector, reason);
      // Counted after the update: the jobs just cancelled are in `cancelled`, every other match
      // is one that could not be (a report, so a job moving meanwhile is not worth a lock).
      const after = await countMatchingByState(db, selector);
      const inFlight = after.executing + after.importing;
      const alreadyFinal = after.succeeded + after.aborted + Math.max(0, after.cancelled - cancelled.length);
      const matched = Object.values(after).reduce((sum, n) => sum + n, 0);
      const notFound = selector.ids ? Math.max(0, selector.ids.length - matched) : 0;
      if (optFlag(input, 'json')) {
        printJson(ctx, { cancelled: cancelled.length, ids: cancelled, inFlight, alreadyFinal, notFound });
        return EXIT.ok;
      }
      const done = cancelled.length > 0 ? `cancelled ${plural(cancelled.length, 'job')}: ${formatRanges(addIds([], cancelled))}` : 'no waiting jobs matched; nothing was cancelled';
      ctx.print(done);
      if (inFlight > 0) ctx.print(`${plural(inFlight, 'job')} could not be cancelled: already uploading or importing (they finish on their own)`);
      if (alreadyFinal > 0) ctx.print(`${plural(alreadyFinal, 'job')} could not be cancelled: already final (succeeded, aborted or cancelled)`);
      if (after.waiting > 0) ctx.print(`${plural(after.waiting, 'job')} matched but arrived after the cancel; run it again to cancel them`);
      if (notFound > 0) ctx.print(`${plural(notFound, 'id')} did not match any job`);
      return EXIT.ok;
    });
  },
};
