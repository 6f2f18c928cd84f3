/**
 * One migrated database for a whole test file, emptied before each test.
 *
 * Creating and dropping a database per test costs a template copy, a flush and a server-wide
 * barrier each time; on a server shared with a second copy of the suite that was the slowest and
 * least predictable step of many files (a `beforeEach` that only created a database once ran past
 * its hook timeout). Emptying the tables gives each test the same blank, migrated state.
 */
import { afterAll, beforeAll, beforeEach } from 'vitest';
import { sql, type Kysely } from 'kysely';
import type pg from 'pg';
import type { Database } from '../../src/db/schema.ts';
import { createTestDatabase, type TestDatabase } from './database.ts';
import { PARTITION_WIDTH } from '../../src/store/job-partitions.ts';

export interface FileDatabaseOptions {
  /**
   * false: leave emptying to the caller, for files whose fixtures outlive one test (an API
   * harness started in a describe's beforeAll empties the database itself when it starts).
   */
  emptyBeforeEach?: boolean;
}

/**
 * Registers the file's hooks and returns the database; its fields are read once the file's
 * `beforeAll` has run, so keep the returned object and read `db`/`url` inside tests and hooks.
 */
export function databaseForFile({ emptyBeforeEach = true }: FileDatabaseOptions = {}): TestDatabase {
  let current: TestDatabase | undefined;
  const opened = (): TestDatabase => {
    if (!current) throw new Error('the test database is opened in beforeAll: read it inside a test or hook');
    return current;
  };
  beforeAll(async () => {
    current = await createTestDatabase();
  });
  if (emptyBeforeEach) {
    beforeEach(async () => {
      await emptyTables(opened().db);
    });
  }
  afterAll(async () => {
    await current?.close();
  });
  return {
    get url() { return opened().url; },
    get db() { return opened().db; },
    get pool(): pg.Pool { return opened().pool; },
    get serverBacked() { return opened().serverBacked; },
    close: async () => undefined, // closed after the file's last test
  };
}

/**
 * Empties every table but the migration bookkeeping, restarting id sequences, so ids and counts
 * look as in a freshly cloned database.
 */
export async function emptyTables(db: Kysely<Database>): Promise<void> {
  const { rows } = await sql<{ name: string }>`
    SELECT quote_ident(tablename) AS name FROM pg_tables
    WHERE schemaname = current_schema() AND tablename NOT LIKE 'br\\_migrations%'`.execute(db);
  if (rows.length === 0) return;
  await sql.raw(`TRUNCATE ${rows.map((r) => r.name).join(', ')} RESTART IDENTITY CASCADE`).execute(db);
  // The job id sequence starts again at 1, but a test may have dropped the partitions of low ids
  // (retention): without them new jobs would land in the DEFAULT partition, which is never dropped.
  await sql`SELECT br_ensure_job_partitions(0, ${2 * PARTITION_WIDTH})
            WHERE to_regproc('br_ensure_job_partitions') IS NOT NULL`.execute(db);
}
