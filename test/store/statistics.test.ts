/**
 * Planner statistics of the job tables: the job rows' parent is analyzed whenever a partition
 * changed (the claim's anti-join needs it), the payloads' parent, whose ANALYZE samples every
 * partition of wide rows again, only when it has none or every ten minutes, its changed partitions
 * on their own in between. On the server only: PGlite's statistics counters are not what is tested.
 */
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { ensureJobPartitions, PARTITION_WIDTH, planForManyDestinations, PLANNED_DESTINATIONS_PER_PARTITION, refreshJobStatistics } from '../../src/store/job-partitions.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { storeFixture } from './store-fixture.ts';

describe.runIf(!!process.env.DATABASE_URL)('store: planner statistics', () => {
  const s = storeFixture();

  async function analyzedAt(relname: string): Promise<Date | null> {
    const { rows } = await sql<{ at: Date | null }>`SELECT last_analyze AS at FROM pg_stat_user_tables WHERE relname = ${relname}`.execute(s.t.db);
    return rows[0]?.at ?? null;
  }
  async function changedSinceAnalyze(relname: string): Promise<number> {
    const { rows } = await sql<{ n: string }>`SELECT n_mod_since_analyze AS n FROM pg_stat_user_tables WHERE relname = ${relname}`.execute(s.t.db);
    return Number(rows[0]?.n ?? 0);
  }
  /** The partition of `table` the next jobs land in. */
  async function currentPartition(table: 'br_job_rows' | 'br_job_payloads'): Promise<string> {
    const ids = await s.enqueue(1);
    const column = table === 'br_job_rows' ? 'id' : 'job_id';
    const { rows } = await sql<{ part: string }>`
      SELECT tableoid::regclass::text AS part FROM ${sql.table(table)} WHERE ${sql.ref(column)} = ${ids[0]}::bigint`.execute(s.t.db);
    return rows[0]!.part;
  }

  it('analyzes the job rows as a parent on every change, the payloads as a parent once, then only their changed partitions', async () => {
    const leaf = await currentPartition('br_job_payloads');
    await s.enqueue(1_500);
    expect(await refreshJobStatistics(s.t.db)).toBeGreaterThan(0);
    const [rowsAt, payloadsAt] = [await analyzedAt('br_job_rows'), await analyzedAt('br_job_payloads')];
    expect(rowsAt).not.toBeNull();
    expect(payloadsAt).not.toBeNull();
    const leafAt = await analyzedAt(leaf);

    await s.enqueue(2_000);
    // The inserting sessions report their counts to the statistics system within seconds.
    await waitFor(async () => (await changedSinceAnalyze(leaf)) >= 2_000, { message: 'the new rows are counted', timeoutMs: 30_000 });
    expect(await refreshJobStatistics(s.t.db)).toBeGreaterThan(0);
    expect((await analyzedAt('br_job_rows'))!.getTime()).toBeGreaterThan(rowsAt!.getTime());
    expect(await analyzedAt('br_job_payloads')).toEqual(payloadsAt);
    expect((await analyzedAt(leaf))!.getTime()).toBeGreaterThan(leafAt!.getTime());
  });

  it('tells the planner every partition of the job rows and exceptions holds many destinations, once, and a partition made later too', async () => {
    const distinct = async () => {
      const { rows } = await sql<{ leaf: string; n: number | null }>`
        SELECT c.relname AS leaf, s.n_distinct AS n FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        LEFT JOIN pg_stats s ON s.tablename = c.relname AND s.attname = 'destination_id'
        WHERE i.inhparent IN ('br_job_rows'::regclass, 'br_job_exceptions'::regclass) ORDER BY 1`.execute(s.t.db);
      return rows;
    };
    await s.enqueue(50); // one destination only
    const leaves = (await distinct()).length;
    expect(await planForManyDestinations(s.t.db)).toBe(leaves);
    const p0 = (await distinct()).find((r) => r.leaf === 'br_job_rows_p0');
    expect(p0?.n).toBe(PLANNED_DESTINATIONS_PER_PARTITION); // analyzed again: ANALYZE records the option
    expect(await planForManyDestinations(s.t.db)).toBe(0);

    await sql`SELECT setval('br_job_ids', ${5 * PARTITION_WIDTH})`.execute(s.t.db);
    expect(await ensureJobPartitions(s.t.db)).toBeGreaterThan(0);
    const made = (await distinct()).length - leaves;
    expect(made).toBeGreaterThan(0);
    expect(await planForManyDestinations(s.t.db)).toBe(made);
  });
});
