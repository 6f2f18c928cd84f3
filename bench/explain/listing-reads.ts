/**
 * EXPLAIN ANALYZE of the job listing (`listJobsSql`, src/store/jobs.listing.ts, with its planner
 * settings) for the filters whose matches are not the newest jobs: succeeded jobs under a backlog
 * of waiting ones, and the jobs of a destination that has been idle while another one delivered. On a throwaway database:
 * 10,000 finished jobs of `dest-idle`, then 1,000,000 finished jobs of `dest-busy`, then a backlog
 * of 300,000 waiting jobs of `dest-busy`. Run by hand: `npx tsx bench/explain/listing-reads.ts`
 * (DATABASE_ADMIN_URL defaults to postgres://postgres@127.0.0.1:5432/test); it drops and
 * recreates `br_explain_listing_reads`.
 */
import type { RawBuilder } from 'kysely';
import { loadFinishedHistory, loadWaitingBacklog } from '../lib/bulk-load.ts';
import { listingPlannerSettingsSql, listJobsSql, type JobListFilter } from '../../src/store/jobs.listing.ts';
import { explainAnalyze, throwawayDatabase } from './throwaway-database.ts';

async function main(): Promise<void> {
  const { db, client } = await throwawayDatabase('br_explain_listing_reads');
  const progress = (line: string) => console.error(line);
  await loadFinishedHistory(client, { rows: 10_000, destinationId: 'dest-idle', progress });
  await loadFinishedHistory(client, { rows: 1_000_000, destinationId: 'dest-busy', progress });
  await loadWaitingBacklog(client, { rows: 300_000, destinationId: 'dest-busy', tag: 'backlog', progress });
  await client.query('VACUUM ANALYZE');
  await client.end();

  const explain = async (name: string, query: RawBuilder<unknown>) => {
    const e = await explainAnalyze(db, query);
    console.log(`| ${name} | ${e.rows} | ${e.executionMs.toFixed(1)} ms | ${e.buffers} |`);
  };
  const cases: Array<[string, Omit<JobListFilter, 'limit'>]> = [
    ['every job', {}],
    ['state succeeded', { states: ['succeeded'] }],
    ['states succeeded, waiting', { states: ['succeeded', 'waiting'] }],
    ['dest-idle', { destinationId: 'dest-idle' }],
    ['dest-idle, state succeeded', { destinationId: 'dest-idle', states: ['succeeded'] }],
    ['dest-busy, state succeeded', { destinationId: 'dest-busy', states: ['succeeded'] }],
    ['visible [dest-idle]', { visibleDestinations: ['dest-idle'] }],
    ['visible [dest-idle, dest-none]', { visibleDestinations: ['dest-idle', 'dest-none'] }],
    ['visible [dest-idle, dest-none], state succeeded', { visibleDestinations: ['dest-idle', 'dest-none'], states: ['succeeded'] }],
    ['state aborted', { states: ['aborted'] }],
    ['state waiting', { states: ['waiting'] }],
  ];
  // The pool has one connection: the listing's planner settings hold for every EXPLAIN after this.
  await listingPlannerSettingsSql(false).execute(db);
  console.log('| listJobs, 50 per page | rows | execution | buffers |\n|---|---|---|---|');
  for (const [name, filter] of cases) await explain(name, listJobsSql({ ...filter, limit: 50 }));
  await db.destroy();
}

await main();
