/**
 * Named prepared statements on a PostgreSQL server: a marked statement is prepared once per
 * connection and reused, unmarked ones stay unnamed, and the statement's results are the same.
 */
import { Kysely, PostgresDialect, sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { createPool } from '../../src/db/connect.ts';
import { prepared } from '../../src/db/prepared-statements.ts';

const url = process.env.DATABASE_URL;

describe.skipIf(!url)('prepared statements (PostgreSQL server)', () => {
  const open = (prepare: boolean) => new Kysely<unknown>({ dialect: new PostgresDialect({ pool: createPool({ connectionString: url, max: 1 }, undefined, prepare) }) });
  const preparedOnConnection = async (db: Kysely<unknown>) => {
    const { rows } = await sql<{ name: string; calls: string }>`
      SELECT name, generic_plans + custom_plans AS calls FROM pg_prepared_statements WHERE name LIKE 'br\\_%'`.execute(db);
    return rows;
  };

  it('sends a marked statement as one named statement per text, reused on every call', async () => {
    const db = open(true);
    try {
      for (const n of [1, 2, 3]) {
        const { rows } = await sql<{ v: number }>`${prepared}SELECT ${n}::int * 2 AS v`.execute(db);
        expect(rows).toEqual([{ v: n * 2 }]);
      }
      await sql`SELECT 1`.execute(db);
      const statements = await preparedOnConnection(db);
      expect(statements).toHaveLength(1);
      expect(Number(statements[0]!.calls)).toBe(3);
    } finally {
      await db.destroy();
    }
  });

  it('leaves marked statements unnamed when preparing is off (embedded database, or a pooler without support)', async () => {
    const db = open(false);
    try {
      await sql`${prepared}SELECT 1`.execute(db);
      expect(await preparedOnConnection(db)).toEqual([]);
    } finally {
      await db.destroy();
    }
  });
});
