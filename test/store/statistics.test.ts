/**
 * Planner statistics of the job tables: the job rows' parent is analyzed whenever a partition
 * changed (the claim's anti-join needs it), the payloads' parent, whose ANALYZE samples every
 * partition of wide rows again, only when it has none or every ten minutes, its changed partitions
 * on their own in between; every partition of the job rows and exceptions is planned as holding many
 * destinations (migration 2026-12-07). On the server only: PGlite's statistics counters are not what is tested.
 */
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { ensureJobPartitions, PARTITION_WIDTH, refreshJobStatistics } from '../../src/store/job-partitions.ts';
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

  it('plans every partition of the job rows and exceptions as holding many destinations, a partition made later too', async () => {
    const leaves = async () => {
      const { rows } = await sql<{ leaf: string; options: string[] | null; n: number | null }>`
        SELECT c.relname AS leaf, a.attoptions AS options, s.n_distinct AS n
        FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'destination_id'
        LEFT JOIN pg_stats s ON s.tablename = c.relname AND s.attname = 'destination_id'
        WHERE i.inhparent IN ('br_job_rows'::regclass, 'br_job_exceptions'::regclass) ORDER BY 1`.execute(s.t.db);
      return rows;
    };
    const planned = (options: string[] | null) => (options ?? []).includes('n_distinct=100');
    const before = await leaves();
    expect(before.length).toBeGreaterThanOrEqual(8);
    expect(before.filter((l) => !planned(l.options)).map((l) => l.leaf)).toEqual([]);

    await s.enqueue(50); // one destination only
    await sql`ANALYZE br_job_rows_p0`.execute(s.t.db);
    expect((await leaves()).find((l) => l.leaf === 'br_job_rows_p0')?.n).toBe(100); // ANALYZE records the option

    await sql`SELECT setval('br_job_ids', ${5 * PARTITION_WIDTH})`.execute(s.t.db);
    expect(await ensureJobPartitions(s.t.db)).toBeGreaterThan(0);
    const after = await leaves();
    expect(after.length).toBeGreaterThan(before.length);
    expect(after.filter((l) => !planned(l.options)).map((l) => l.leaf)).toEqual([]);
  });
});
