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
