/**
 * EXPLAIN ANALYZE of the readers that moved off the `br_jobs` view, before (the view queries they
 * replaced) and after (the table queries), on a throwaway database with 1,000,000 jobs finished
 * through 100 uploads, 1,000 aborted exception rows among them, a backlog of 10,000 waiting jobs,
 * a finished submission of 10,000 jobs and a pending one of 10,000. Prints execution time and
 * shared buffers per query. Run by hand: `npx tsx bench/explain/span-reads.ts` (DATABASE_ADMIN_URL
 * defaults to postgres://postgres@127.0.0.1:5432/test); it drops and recreates `br_explain_span_reads`.
 */
import { sql, type RawBuilder } from 'kysely';
import { loadFinishedHistory, loadWaitingBacklog } from '../lib/bulk-load.ts';
import { listJobsSql } from '../../src/store/jobs.listing.ts';
import { explainAnalyze, throwawayDatabase } from './throwaway-database.ts';
import { spanStateCountsSql, submissionDestinationSql, submissionSpanSql } from '../../src/store/jobs.span-counts.ts';

const NAME = 'br_explain_span_reads';
const DEST = 'dest-a';

async function main(): Promise<void> {
  const { db, client } = await throwawayDatabase(NAME);
  const progress = (line: string) => console.error(line);
  await loadFinishedHistory(client, { rows: 1_000_000, destinationId: DEST, progress });
  await loadWaitingBacklog(client, { rows: 10_000, destinationId: DEST, tag: 'backlog', progress });
  // 1,000 aborted jobs spread over the history; two submissions: the last finished upload, and the backlog.
  await client.query(`INSERT INTO br_job_exceptions (job_id, destination_id, state, attempts, reason, finished_at)
                      SELECT g * 1000, $1, 'aborted', 1, 'bad email', now() - interval '2 days' FROM generate_series(1, 1000) g`, [DEST]);
  await client.query(`INSERT INTO br_submissions (id, destination_id, job_count, state) VALUES ('done', $1, 10000, 'pending'), ('open', $1, 10000, 'pending')`, [DEST]);
  await client.query(`UPDATE br_job_rows SET submission_id = 'done' WHERE id BETWEEN 990001 AND 1000000`);
  await client.query(`UPDATE br_job_rows SET submission_id = 'open' WHERE id > 1000000`);
  await client.query('VACUUM ANALYZE');
  await client.end();

  const explain = async (name: string, query: RawBuilder<unknown>) => {
    const e = await explainAnalyze(db, query);
    console.log(`| ${name} | ${e.executionMs.toFixed(1)} ms | ${e.buffers} |`);
  };
  const sum = (q: RawBuilder<unknown>) => sql`SELECT state, sum(n) FROM (${q}) p GROUP BY state`;
  const whole = sql`(SELECT 1::bigint AS first_id, 1010000::bigint AS last_id) q`;
  const oneUpload = sql`(SELECT 500001::bigint AS first_id, 510000::bigint AS last_id) q`;
  const sub = (id: string) => sql`${id}::text`;
  console.log('| query | execution | buffers |\n|---|---|---|');
  for (const [label, span, first, last] of [['all 1,010,000 ids', whole, 1, 1_010_000], ['10,000 ids (one upload)', oneUpload, 500_001, 510_000]] as const) {
    await explain(`countStatesInRange, ${label}: view`, sql`SELECT state, count(*) FROM br_jobs WHERE destination_id = ${DEST} AND id BETWEEN ${first} AND ${last} GROUP BY state`);
    await explain(`countStatesInRange, ${label}: tables`, sum(spanStateCountsSql({ destinationId: sql`${DEST}::text`, spans: span })));
  }
  for (const id of ['done', 'open']) {
    await explain(`countStatesOfSubmission '${id}': view`, sql`SELECT state, count(*) FROM br_jobs WHERE submission_id = ${id} GROUP BY state`);
    await explain(`countStatesOfSubmission '${id}': tables`, sum(spanStateCountsSql({ destinationId: submissionDestinationSql(sub(id)), spans: submissionSpanSql(sub(id)), submissionId: sub(id) })));
  }
  await explain('finalizer due (2 pending): view', sql`SELECT s.id FROM br_submissions s WHERE s.state = 'pending' AND NOT EXISTS (
    SELECT 1 FROM br_jobs j WHERE j.submission_id = s.id AND j.state IN ('waiting', 'executing', 'importing'))`);
  await explain('finalizer due (2 pending): tables', sql`SELECT s.id FROM br_submissions s WHERE s.state = 'pending' AND NOT EXISTS (
    SELECT 1 FROM (${spanStateCountsSql({ destinationId: submissionDestinationSql(sql`s.id`), spans: submissionSpanSql(sql`s.id`), submissionId: sql`s.id` })}) c
    WHERE c.state IN ('waiting', 'executing', 'importing') AND c.n > 0)`);
  for (const state of ['aborted', 'waiting'] as const) {
    for (const [page, beforeId] of [['first page', undefined], ['page below id 500,000', '500000']] as const) {
      const below = beforeId === undefined ? sql`true` : sql`id < ${beforeId}::bigint`;
      await explain(`listJobs state=${state}, 50, ${page}: view`, sql`SELECT * FROM br_jobs WHERE state = ${state} AND ${below} ORDER BY id DESC LIMIT 50`);
      await explain(`listJobs state=${state}, 50, ${page}: tables`, listJobsSql({ states: [state], beforeId, limit: 50 }));
    }
  }
  await db.destroy();
}

await main();
