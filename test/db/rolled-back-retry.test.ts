/**
 * A transaction PostgreSQL rolls back as a deadlock's victim is run again from the start: two
 * transactions lock two tables in opposite orders, a real deadlock, and both still finish.
 */
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { isRolledBackByServer, retryRolledBack } from '../../src/db/rolled-back-retry.ts';
import { waitFor } from '../helpers/wait-for.ts';

const url = process.env.DATABASE_URL;

describe.skipIf(!url)('retryRolledBack (PostgreSQL server)', () => {
  it('runs a deadlock victim again, so both transactions of a real deadlock finish', async () => {
    const setup = new pg.Client({ connectionString: url });
    await setup.connect();
    const suffix = `${process.pid}_${Date.now()}`;
    const [a, b] = [`rb_a_${suffix}`, `rb_b_${suffix}`];
    await setup.query(`CREATE TABLE ${a} (n int); CREATE TABLE ${b} (n int)`);
    const clients = [new pg.Client({ connectionString: url }), new pg.Client({ connectionString: url })];
    await Promise.all(clients.map((c) => c.connect()));
    const retries: string[] = [];
    let firstLocks = 0;
    /** Locks `first`, waits until the other transaction holds its first table too, then wants `second`. */
    const transaction = (client: pg.Client, first: string, second: string) => async () => {
      await client.query('BEGIN');
      try {
        await client.query(`LOCK TABLE ${first} IN ACCESS EXCLUSIVE MODE`);
        firstLocks += 1;
        if (firstLocks <= 2) await waitFor(() => firstLocks >= 2, { message: 'both hold their first table', timeoutMs: 10_000 });
        await client.query(`LOCK TABLE ${second} IN ACCESS EXCLUSIVE MODE`);
        await client.query(`INSERT INTO ${second} VALUES (1)`);
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK');
        throw error;
      }
    };
    try {
      await Promise.all([
        retryRolledBack(transaction(clients[0]!, a, b), (err) => retries.push((err as { code?: string }).code ?? '')),
        retryRolledBack(transaction(clients[1]!, b, a), (err) => retries.push((err as { code?: string }).code ?? '')),
      ]);
      expect(retries).toEqual(['40P01']);
      const { rows } = await setup.query<{ n: string }>(`SELECT (SELECT count(*) FROM ${a}) + (SELECT count(*) FROM ${b}) AS n`);
      expect(Number(rows[0]!.n)).toBe(2);
    } finally {
      await Promise.all(clients.map((c) => c.end()));
      await setup.query(`DROP TABLE IF EXISTS ${a}, ${b}`);
      await setup.end();
    }
  });

  it('passes any other failure through at once', async () => {
    let calls = 0;
    const work = async () => {
      calls += 1;
      throw Object.assign(new Error('duplicate key'), { code: '23505' });
    };
    await expect(retryRolledBack(work, () => {})).rejects.toThrow('duplicate key');
    expect(calls).toBe(1);
    expect(isRolledBackByServer({ code: '40001' })).toBe(true);
  });
});
