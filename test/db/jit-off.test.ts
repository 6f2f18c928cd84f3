/**
 * JIT stays off for the daemon's connections: on a store with millions of finished jobs the
 * router's statements are estimated above jit_above_cost (they are planned over every partition),
 * and the server compiled them on every execution, 20–70 ms for sub-millisecond work. Checked on
 * the server's own EXPLAIN output, against a control connection that does compile.
 */
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { createPool } from '../../src/db/connect.ts';
import { lockDestinationForClaim } from '../../src/store/destination-lock.ts';
import type { Database } from '../../src/db/schema.ts';

const url = process.env.DATABASE_URL;
const QUERY = 'SELECT sum(g) FROM generate_series(1, 1000) g';

/** Whether the server JIT-compiled `QUERY` on this connection, once every plan qualifies for JIT. */
async function compiles(query: (text: string) => Promise<{ rows: Array<Record<string, unknown>> }>): Promise<boolean> {
  await query('SET jit_above_cost = 0');
  const { rows } = await query(`EXPLAIN (ANALYZE, FORMAT JSON) ${QUERY}`);
  const plan = (rows[0]!['QUERY PLAN'] as Array<Record<string, unknown>>)[0]!;
  return 'JIT' in plan;
}

describe.skipIf(!url)('JIT off (PostgreSQL server)', () => {
  it('every pooled connection runs with jit off, and the claim transaction sets it locally too', async () => {
    const control = new pg.Client({ connectionString: url });
    await control.connect();
    const jitAvailable = (await control.query<{ on: boolean }>('SELECT pg_jit_available() AS on')).rows[0]!.on;
    try {
      // Without the setting this server compiles (when it can): the assertions below can fail.
      if (jitAvailable) expect(await compiles((t) => control.query(t))).toBe(true);

      const pool = createPool({ connectionString: url, max: 2 }, undefined, true);
      try {
        const client = await pool.connect();
        try {
          expect((await client.query<{ jit: string }>('SHOW jit')).rows[0]!.jit).toBe('off');
          expect(await compiles((t) => client.query(t))).toBe(false);
        } finally {
          client.release();
        }
      } finally {
        await pool.end();
      }

      // A connection with jit on (a pooler's, say): the claim's lock statement turns it off for its transaction.
      await control.query('SET jit = on');
      const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url, max: 1 }) }) });
      try {
        const inClaim = await db.transaction().execute(async (trx) => {
          await lockDestinationForClaim(trx, 'jit-test');
          return (await sql<{ jit: string }>`SELECT current_setting('jit') AS jit`.execute(trx)).rows[0]!.jit;
        });
        expect(inClaim).toBe('off');
      } finally {
        await db.destroy();
      }
    } finally {
      await control.end();
    }
  });
});
