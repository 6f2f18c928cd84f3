/**
 * Jobs whose ids run past the partitions made ahead land in the DEFAULT partition. The sweeper's
 * ensureJobPartitions then makes their range's partition and moves them into it (rows, payloads
 * and exception rows alike), and retention drops that partition like any other.
 */
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { dropFinishedPartitions, ensureJobPartitions, PARTITION_WIDTH } from '../../src/store/job-partitions.ts';
import { markAborted, markAllSucceeded } from '../../src/store/jobs.transitions.ts';
import { readPayloadTexts } from '../../src/store/job-payloads.repository.ts';
import { DEST, storeFixture } from './store-fixture.ts';

const ANY_AGE = -60_000;
const TABLES = ['br_job_rows', 'br_job_payloads', 'br_job_exceptions'];

describe('store: jobs in the DEFAULT partition', () => {
  const s = storeFixture();

  /** Rows per physical table among the job tables' partitions, e.g. { br_job_rows_default: 3 }. */
  async function placement(): Promise<Record<string, number>> {
    const found: Record<string, number> = {};
    for (const table of TABLES) {
      const { rows } = await sql<{ part: string; n: string }>`
        SELECT tableoid::regclass::text AS part, count(*) AS n FROM ${sql.table(table)} GROUP BY 1`.execute(s.t.db);
      for (const row of rows) found[row.part] = Number(row.n);
    }
    return found;
  }

  const setIds = (at: number) => sql`SELECT setval('br_job_ids', ${at})`.execute(s.t.db);

  it('are moved into a new partition by the sweeper, keep their states, and go with it', async () => {
    await setIds(5 * PARTITION_WIDTH);
    const ids = await s.enqueue(3);
    const { uploadId } = await s.claim();
    await markAborted(s.t.db, { state: 'executing', uploadId }, [{ jobId: ids[0]!, reason: 'bad email', code: 'record_rejected' }]);
    await markAllSucceeded(s.t.db, { state: 'executing', uploadId });
    expect(await placement()).toEqual({ br_job_rows_default: 3, br_job_payloads_default: 3, br_job_exceptions_default: 1 });
    const before = await s.states(ids);

    expect(await ensureJobPartitions(s.t.db)).toBeGreaterThanOrEqual(1);
    expect(await placement()).toEqual({ br_job_rows_p5: 3, br_job_payloads_p5: 3, br_job_exceptions_p5: 1 });
    expect(await s.states(ids)).toEqual(before);
    expect([...(await readPayloadTexts(s.t.db, ids)).keys()].sort()).toEqual([...ids].sort());
    const [later] = await s.enqueue(1);
    expect(await placement()).toMatchObject({ br_job_rows_p5: 4 });

    const second = await s.claim();
    await setIds(6 * PARTITION_WIDTH);
    const { rows } = await sql<{ id: string }>`SELECT id FROM br_jobs WHERE id = ${later!} AND state = 'executing'`.execute(s.t.db);
    expect(rows).toHaveLength(1);
    expect(await dropFinishedPartitions(s.t.db, ANY_AGE)).toBe(0);
    await markAllSucceeded(s.t.db, { state: 'executing', uploadId: second.uploadId });
    expect(await dropFinishedPartitions(s.t.db, ANY_AGE)).toBe(4);
    expect(await placement()).toEqual({});
    expect(await s.t.db.selectFrom('br_job_rows').select('id').execute()).toEqual([]);
  });

  it('a range already made ahead is left alone, and the sequence running past every partition still lands in DEFAULT until the sweep', async () => {
    expect(await ensureJobPartitions(s.t.db)).toBe(0);
    await setIds(40 * PARTITION_WIDTH + 5);
    const [far] = await s.enqueue(1, DEST);
    expect(await placement()).toEqual({ br_job_rows_default: 1, br_job_payloads_default: 1 });
    await setIds(90 * PARTITION_WIDTH);
    expect(await ensureJobPartitions(s.t.db)).toBeGreaterThanOrEqual(2);
    expect(await placement()).toEqual({ br_job_rows_p40: 1, br_job_payloads_p40: 1 });
    expect(await s.states([far!])).toEqual(['waiting']);
  });

  it.runIf(!!process.env.DATABASE_URL)('a job table busy in another transaction: the partition is left to the next sweep, quickly and without an error', async () => {
    await setIds(70 * PARTITION_WIDTH);
    const other = await s.t.pool.connect();
    try {
      // What a router statement holds while it writes: a lock the partition DDL conflicts with.
      await other.query('BEGIN');
      await other.query('LOCK TABLE br_job_exceptions IN ROW EXCLUSIVE MODE');
      const started = Date.now();
      expect(await ensureJobPartitions(s.t.db)).toBe(0);
      // Gave up on its own lock timeout (200 ms, below the 1 s after which a waiting router
      // statement runs the deadlock check), not the 5 s it used to wait; the bound leaves room
      // for a loaded machine and still fails on the old timeout.
      expect(Date.now() - started).toBeLessThan(4_000);
      await other.query('COMMIT');
      expect(await ensureJobPartitions(s.t.db)).toBeGreaterThanOrEqual(1);
    } finally {
      await other.query('ROLLBACK').catch(() => {});
      other.release();
    }
  });
});
