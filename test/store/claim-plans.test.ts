/**
 * The claim's cached plans stay index lookups of its own destination's jobs. (1) When the ids move into a partition that was empty
 * (and analyzed empty) when the plan was made. The claim runs as a generic plan that the session
 * keeps until something invalidates it; made over an empty partition, it read that partition with
 * a sequential scan, once per claimed job for the payload lookup, all the while the partition filled
 * (the soak: a 10,000-job claim took 2-3 s once per partition until the sweeper's next ANALYZE).
 * (2) When the partition was analyzed while another destination had every row in it: estimated as
 * one destination (n_distinct 1), the plan walked the partition's id index from the cursor through
 * the other destination's rows; since migration 2026-12-07 every partition tells the planner otherwise.
 * (3) When the destination's jobs got exception rows (imports) after the plan was made over empty
 * exception partitions: as an anti-join, "no exception row" became a nested loop that re-read them
 * all for each job (the Marketo bench: one claim took 106 s); it is now a primary-key probe per job.
 * Counted with the server's own statistics on one session that keeps its prepared statements.
 */
import { Kysely, PostgresDialect, sql, type RawBuilder } from 'kysely';
import { describe, expect, it } from 'vitest';
import { createPool } from '../../src/db/connect.ts';
import type { Database } from '../../src/db/schema.ts';
import { claimNextUpload } from '../../src/router/claim.ts';
import { ensureJobPartitions, PARTITION_WIDTH } from '../../src/store/job-partitions.ts';
import { insertJobs } from '../../src/store/jobs.repository.ts';
import { requiresServer } from '../helpers/database.ts';
import { scriptedManager, testDestination } from '../helpers/scripted-manager.ts';
import { DEST, events, OTHER_DEST, storeFixture } from './store-fixture.ts';

const FILLED = 3_000;

/** How much the server's counter `count` (a query of the statistics views) grew while `work` ran on `db`'s one session. */
async function rowsReadBy(db: Kysely<Database>, count: RawBuilder<{ n: string }>, work: () => Promise<void>): Promise<number> {
  const read = async () => {
    await sql`SELECT pg_stat_force_next_flush()`.execute(db); // this session's counts, published when it goes idle
    return Number((await count.execute(db)).rows[0]!.n);
  };
  const before = await read();
  await work();
  return (await read()) - before;
}
const CLAIM = 1_000;

describe.skipIf(requiresServer)('store: claim plans over a partition that was empty (PostgreSQL server)', () => {
  const s = storeFixture();

  it('a claim from a partition that filled after its plan was made reads it by index, not once per job', async () => {
    // One session, as a daemon's pooled connection: its named statements and their plans persist.
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: createPool({ connectionString: s.t.url, max: 1 }, undefined, true) }) });
    try {
      const ctx = { ...s.routerContext('w1'), db };
      const destination = testDestination(scriptedManager().manager, DEST, { maxEventsPerUpload: CLAIM, uploadIntervalMs: 0, uploadConcurrency: 4 });
      await ensureJobPartitions(db);
      await sql`ANALYZE br_job_rows, br_job_payloads, br_job_exceptions`.execute(db); // partition 1: analyzed empty
      await insertJobs(db, DEST, events(10));
      expect((await claimNextUpload(ctx, destination)).kind).toBe('claimed'); // the claim's plans are made now

      await sql`SELECT setval('br_job_ids', ${PARTITION_WIDTH})`.execute(db);
      await insertJobs(db, DEST, events(FILLED));
      const read = await rowsReadBy(db, sql`
        SELECT coalesce(sum(seq_tup_read), 0) AS n FROM pg_stat_user_tables
        WHERE relname IN ('br_job_rows_p1', 'br_job_payloads_p1', 'br_job_exceptions_p1')`, async () => {
        const claim = await claimNextUpload(ctx, destination);
        expect(claim.kind === 'claimed' ? claim.jobs.length : 0).toBe(CLAIM);
      });
      // Once per claimed job would be CLAIM × FILLED rows; one sequential pass would be FILLED.
      expect(read).toBeLessThan(FILLED);
    } finally {
      await db.destroy();
    }
  });

  const IMPORTING = 3_000;
  it('a claim planned before the destination had exception rows does not read the ones below its cursor', async () => {
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: createPool({ connectionString: s.t.url, max: 1 }, undefined, true) }) });
    try {
      const ctx = { ...s.routerContext('w1'), db };
      const destination = testDestination(scriptedManager().manager, DEST, { maxEventsPerUpload: CLAIM, uploadIntervalMs: 0, uploadConcurrency: 4 });
      await sql`ANALYZE br_job_rows, br_job_payloads, br_job_exceptions`.execute(db); // exceptions analyzed empty
      await insertJobs(db, DEST, events(10));
      expect((await claimNextUpload(ctx, destination)).kind).toBe('claimed'); // the claim's plans are made now

      await s.importing(IMPORTING); // exception rows below the cursor, as a bulk import's jobs have
      await insertJobs(db, DEST, events(CLAIM));
      const read = await rowsReadBy(db, sql`
        SELECT (SELECT coalesce(sum(idx_tup_read), 0) FROM pg_stat_user_indexes WHERE relname = 'br_job_exceptions_p0')
             + (SELECT coalesce(sum(seq_tup_read), 0) FROM pg_stat_user_tables WHERE relname = 'br_job_exceptions_p0') AS n`, async () => {
        const claim = await claimNextUpload(ctx, destination);
        expect(claim.kind === 'claimed' ? claim.jobs.length : 0).toBe(CLAIM);
      });
      expect(read).toBeLessThan(IMPORTING);
    } finally {
      await db.destroy();
    }
  });

  const OTHERS = 3_000;
  it.each([
    { planned: false, reads: `at least ${OTHERS}: the other destination's rows` },
    { planned: true, reads: 'a few: its own' },
  ])('gate and claim of a destination beside one the statistics know alone, partition planned for many destinations $planned: read $reads', async ({ planned }) => {
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: createPool({ connectionString: s.t.url, max: 1 }, undefined, true) }) });
    try {
      const ctx = { ...s.routerContext('w1'), db };
      const waitForFull = testDestination(scriptedManager().manager, DEST, { maxEventsPerUpload: 100, uploadIntervalMs: 3_600_000 });
      const sendNow = testDestination(scriptedManager().manager, DEST, { maxEventsPerUpload: 100, uploadIntervalMs: 0 });
      // As a partition made before migration 2026-12-07 was, until that migration set the option.
      if (!planned) await sql`ALTER TABLE br_job_rows_p0 ALTER COLUMN destination_id RESET (n_distinct)`.execute(db);
      await insertJobs(db, OTHER_DEST, events(OTHERS));
      await sql`ANALYZE br_job_rows, br_job_exceptions`.execute(db); // partition 0 holds one destination
      await insertJobs(db, DEST, events(5));
      const indexReads = async () => {
        await sql`SELECT pg_stat_force_next_flush()`.execute(db);
        const { rows } = await sql<{ n: string }>`
          SELECT coalesce(sum(idx_tup_read), 0) AS n FROM pg_stat_user_indexes WHERE relname = 'br_job_rows_p0'`.execute(db);
        return Number(rows[0]!.n);
      };
      const before = await indexReads();
      expect((await claimNextUpload(ctx, waitForFull)).kind).toBe('idle');
      const claim = await claimNextUpload(ctx, sendNow);
      expect(claim.kind === 'claimed' ? claim.jobs.length : 0).toBe(5);
      const read = (await indexReads()) - before;
      if (planned) expect(read).toBeLessThan(100);
      else expect(read).toBeGreaterThanOrEqual(OTHERS);
    } finally {
      // The file's database is emptied between cases, not remade: put the option back.
      if (!planned) await sql`ALTER TABLE br_job_rows_p0 ALTER COLUMN destination_id SET (n_distinct = 100)`.execute(db);
      await db.destroy();
    }
  });
});
