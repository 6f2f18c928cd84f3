/**
 * `enqueue --wait`: follows the jobs just enqueued until every one is final, showing progress on
 * stderr. On a terminal one line is redrawn in place; into a pipe or log file a plain line is
 * written every few seconds instead, because carriage returns make a mess of files.
 * Each refresh is one aggregate query over the enqueued id ranges, however many jobs there are.
 */
import type { Kysely } from 'kysely';
import { countStatesInRange, type IdRange } from '../store/jobs.repository.ts';
import type { Database, JobState } from '../db/schema.ts';
import type { CliContext } from './command.ts';
import { formatDuration } from './output.ts';

export type StateCounts = Record<JobState, number>;

export interface WaitOptions {
  destinationId: string;
  ranges: readonly IdRange[];
  total: number;
  /** Give up after this long; undefined waits for ever. */
  timeoutMs: number | undefined;
  /** Time between refreshes (one query each). */
  refreshMs?: number;
  /** Time between progress lines when stderr is not a terminal. */
  plainEveryMs?: number;
}

export type WaitResult = { done: true; counts: StateCounts } | { done: false; counts: StateCounts };

export async function waitForJobs(db: Kysely<Database>, ctx: CliContext, options: WaitOptions): Promise<WaitResult> {
  const refreshMs = options.refreshMs ?? 300;
  const plainEveryMs = options.plainEveryMs ?? 5000;
  const tty = ctx.stderr.isTTY === true;
  const started = Date.now();
  const deadline = options.timeoutMs === undefined ? Infinity : started + options.timeoutMs;
  let lastPlain = -Infinity;
  let drawn = false;

  const show = (counts: StateCounts, final: boolean) => {
    const elapsed = Date.now() - started;
    if (tty) {
      const width = Math.max(20, (ctx.stderr.columns ?? 100) - 1);
      ctx.stderr.write(`\r\x1b[2K${progressLine(counts, options.total, elapsed, true).slice(0, width)}${final ? '\n' : ''}`);
      drawn = !final;
    } else if (final || elapsed - lastPlain >= plainEveryMs) {
      ctx.note(progressLine(counts, options.total, elapsed, false));
      lastPlain = elapsed;
    }
  };

  // Ctrl-C while waiting must not read as "the jobs were stopped": they carry on without us.
  const onInterrupt = () => {
    if (drawn) ctx.stderr.write('\n');
    ctx.note('stopped waiting; the jobs carry on. Follow them with "batch-router jobs --destination ' + `${options.destinationId}".`);
    process.exit(130);
  };
  process.once('SIGINT', onInterrupt);
  try {
    for (;;) {
      const counts = await countStatesInRange(db, options.destinationId, options.ranges);
      // Counting what is still open (not what is final) also ends the wait if retention or an
      // operator deleted some of the jobs meanwhile.
      const open = counts.waiting + counts.executing + counts.importing;
      if (open === 0) {
        show(counts, true);
        return { done: true, counts };
      }
      if (Date.now() >= deadline) {
        show(counts, true);
        return { done: false, counts };
      }
      show(counts, false);
      await new Promise((resolve) => setTimeout(resolve, Math.min(refreshMs, Math.max(0, deadline - Date.now()))));
    }
  } finally {
    process.removeListener('SIGINT', onInterrupt);
  }
}

/** "[######----] 620/1000 final · waiting 300 executing 80 importing 0 · succeeded 610 aborted 10 cancelled 0 · 12s" */
export function progressLine(counts: StateCounts, total: number, elapsedMs: number, bar: boolean): string {
  const final = counts.succeeded + counts.aborted + counts.cancelled;
  const width = 20;
  const filled = total === 0 ? width : Math.min(width, Math.floor((final / total) * width));
  const meter = bar ? `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ` : '';
  return (
    `${meter}${final}/${total} final · waiting ${counts.waiting} executing ${counts.executing} ` +
    `importing ${counts.importing} · succeeded ${counts.succeeded} aborted ${counts.aborted} ` +
    `cancelled ${counts.cancelled} · ${formatDuration(elapsedMs)}`
  );
}
