/**
 * The readers that moved off the `br_jobs` view (counts over id spans, submission reads, the
 * listing by rare states) against the view itself as the oracle, over one history that mixes
 * every source of a job's state: a finished upload's range with exceptions inside it (aborted,
 * retried then succeeded elsewhere, a warning), an upload still executing, an importing one,
 * waiting and cancelled jobs above the cursor, and another destination's jobs interleaved.
 */
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { countStatesInRange, insertJobs } from '../../src/store/jobs.repository.ts';
import { listJobs } from '../../src/store/jobs.listing.ts';
import { cancelJobs } from '../../src/store/jobs.maintenance.ts';
import { markAborted, markAllSucceeded, markSucceeded, scheduleRetries } from '../../src/store/jobs.transitions.ts';
import {
  countStatesOfSubmission, firstReasonsOfSubmission, lastFinishedAtOfSubmission,
} from '../../src/api/store/submissions.repository.ts';
import type { JobState } from '../../src/db/schema.ts';
import { DEST, OTHER_DEST, RETRY_NOW, events, storeFixture } from './store-fixture.ts';

describe('store: reads over spans match the view', () => {
  const s = storeFixture();

  /** Returns DEST's ids in order (12 jobs) and OTHER_DEST's (4), interleaved in id order. */
  async function history(): Promise<{ dest: string[]; other: string[] }> {
    const dest: string[] = [];
    const other: string[] = [];
    const both = async (n: number, sub: string | null = null) => {
      dest.push(...(await insertJobs(s.t.db, DEST, events(n), sub)));
      other.push(...(await s.enqueue(1, OTHER_DEST)));
    };
    await both(3, 'sub-1');
    await both(3, 'sub-1');
    const first = await s.claim({ limit: 5 });
    const guard = { state: 'executing', uploadId: first.uploadId } as const;
    await markAborted(s.t.db, guard, [{ jobId: dest[1]!, reason: 'bad email', code: 'record_rejected' }]);
    await markSucceeded(s.t.db, guard, [{ jobId: dest[2]!, warning: 'trimmed' }]);
    await scheduleRetries(s.t.db, guard, [{ jobId: dest[3]!, error: 'x', code: 'timeout' }], RETRY_NOW, false);
    await markAllSucceeded(s.t.db, guard);
    await both(3, 'sub-2');
    await s.claim({ limit: 3 }); // the retried job and two more: executing
    await s.importing(2);
    dest.push(...(await s.t.db.selectFrom('br_job_rows').select('id').where('destination_id', '=', DEST)
      .where('id', '>', dest.at(-1)!).orderBy('id').execute()).map((r) => r.id));
    await both(2, 'sub-2');
    await cancelJobs(s.t.db, { ids: [dest.at(-1)!] }, 'withdrawn');
    return { dest, other };
  }

  async function viewCounts(destinationId: string, ranges: Array<[string, string]>): Promise<Record<JobState, number>> {
    const counts = { waiting: 0, executing: 0, importing: 0, succeeded: 0, aborted: 0, cancelled: 0 };
    for (const [first, last] of ranges) {
      const { rows } = await sql<{ state: JobState; n: string }>`
        SELECT state, count(*) AS n FROM br_jobs WHERE destination_id = ${destinationId} AND id BETWEEN ${first} AND ${last} GROUP BY state`.execute(s.t.db);
      for (const row of rows) counts[row.state] += Number(row.n);
    }
    return counts;
  }

  it('the history holds every state, from every source', async () => {
    const h = await history();
    expect(await viewCounts(DEST, [[h.dest[0]!, h.dest.at(-1)!]])).toEqual({ waiting: 1, executing: 3, importing: 4, succeeded: 3, aborted: 1, cancelled: 1 });
  });

  const rangeCases: Array<{ name: string; dest?: string; ranges: (h: { dest: string[]; other: string[] }) => Array<[string, string]> }> = [
    { name: 'everything', ranges: (h) => [[h.dest[0]!, h.dest.at(-1)!]] },
    { name: 'the finished range only, exceptions inside', ranges: (h) => [[h.dest[0]!, h.dest[4]!]] },
    { name: 'part of the finished range (range_count cannot be used)', ranges: (h) => [[h.dest[1]!, h.dest[3]!]] },
    { name: 'across the finished and the executing range', ranges: (h) => [[h.dest[4]!, h.dest[6]!]] },
    { name: 'the waiting and cancelled jobs above the cursor', ranges: (h) => [[h.dest.at(-2)!, h.dest.at(-1)!]] },
    { name: 'across the cursor', ranges: (h) => [[h.dest[7]!, h.dest.at(-1)!]] },
    { name: 'overlapping spans count twice, as a join would', ranges: (h) => [[h.dest[0]!, h.dest[5]!], [h.dest[3]!, h.dest.at(-1)!]] },
    { name: 'single jobs', ranges: (h) => h.dest.map((id) => [id, id] as [string, string]) },
    { name: 'beyond every job', ranges: (h) => [[String(BigInt(h.dest.at(-1)!) + 1n), String(BigInt(h.dest.at(-1)!) + 100n)]] },
    { name: 'another destination over the same ids', dest: OTHER_DEST, ranges: (h) => [[h.dest[0]!, h.dest.at(-1)!]] },
  ];
  it.each(rangeCases)('countStatesInRange: $name', async ({ dest = DEST, ranges }) => {
    const h = await history();
    const spans = ranges(h);
    expect(await countStatesInRange(s.t.db, dest, spans.map(([first, last]) => ({ first, last })))).toEqual(await viewCounts(dest, spans));
  });

  it('submission counts, reasons and last finish match the view', async () => {
    await history();
    for (const sub of ['sub-1', 'sub-2', 'sub-none']) {
      const { rows } = await sql<{ state: JobState; n: string }>`
        SELECT state, count(*) AS n FROM br_jobs WHERE submission_id = ${sub} GROUP BY state`.execute(s.t.db);
      const expected = { waiting: 0, executing: 0, importing: 0, succeeded: 0, aborted: 0, cancelled: 0 };
      for (const row of rows) expected[row.state] = Number(row.n);
      expect(await countStatesOfSubmission(s.t.db, sub)).toEqual(expected);
      const reasons = await sql<{ id: string; state: JobState; reason: string }>`
        SELECT id, state, coalesce(reason, state) AS reason FROM br_jobs
        WHERE submission_id = ${sub} AND state IN ('aborted', 'cancelled') ORDER BY id`.execute(s.t.db);
      expect(await firstReasonsOfSubmission(s.t.db, sub, 10)).toEqual(reasons.rows.map((r) => ({ jobId: r.id, state: r.state, reason: r.reason })));
      const last = await sql<{ at: Date | null }>`SELECT max(finished_at) AS at FROM br_jobs WHERE submission_id = ${sub}`.execute(s.t.db);
      expect(await lastFinishedAtOfSubmission(s.t.db, sub)).toEqual(last.rows[0]!.at);
    }
  });

  // Every state in both regions of a cursor: the history, plus a job of OTHER_DEST above its
  // cursor set succeeded by hand through the view (an exception row where only waiting jobs are).
  const stateCases: JobState[][] = [
    [], ['waiting'], ['executing'], ['importing'], ['succeeded'], ['aborted'], ['cancelled'],
    ['waiting', 'cancelled'], ['executing', 'aborted'], ['waiting', 'succeeded'], ['succeeded', 'aborted'], ['executing', 'succeeded'],
  ];
  const scopes: Array<{ destinationId?: string; visibleDestinations?: string[] }> = [
    {}, { destinationId: DEST }, { destinationId: OTHER_DEST }, { visibleDestinations: [OTHER_DEST] },
    { visibleDestinations: [DEST, OTHER_DEST] }, { visibleDestinations: [OTHER_DEST], destinationId: DEST },
  ];
  it.each(stateCases.map((states) => ({ states, label: states.join(', ') || 'every state' })))(
    'listJobs by $label matches the view in every destination scope, page by page',
    async ({ states }) => {
      const h = await history();
      await sql`UPDATE br_jobs SET state = 'succeeded', finished_at = now() WHERE id = ${h.other[1]!}::bigint`.execute(s.t.db);
      for (const scope of scopes) {
        const { rows } = await sql<{ id: string }>`
          SELECT id FROM br_jobs
          WHERE (cardinality(${states}::text[]) = 0 OR state = ANY(${states}::text[]))
            AND (${scope.destinationId ?? null}::text IS NULL OR destination_id = ${scope.destinationId ?? null})
            AND (${scope.visibleDestinations ?? null}::text[] IS NULL OR destination_id = ANY(${scope.visibleDestinations ?? null}::text[]))
          ORDER BY id DESC`.execute(s.t.db);
        const seen: string[] = [];
        let beforeId: string | undefined;
        for (;;) {
          const page = await listJobs(s.t.db, { states, ...scope, beforeId, limit: 2 });
          seen.push(...page.map((j) => j.id));
          if (page.length < 2) break;
          beforeId = page.at(-1)!.id;
        }
        expect(seen, JSON.stringify(scope)).toEqual(rows.map((r) => r.id));
      }
    },
  );
});
