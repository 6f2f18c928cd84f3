/**
 * The migration runner: the repo's migrations apply to an empty database and are then up to
 * date; modules are found by extension and named without it; a failure names the migration and
 * leaves nothing half-applied.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { FolderMigrationProvider, migrateToLatest, migrationStatus } from '../../src/db/migrate.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function emptyDatabase(): Promise<TestDatabase> {
  const t = await createTestDatabase({ migrated: false });
  cleanups.push(() => t.close());
  return t;
}

/** A migrations folder outside the repo; modules import nothing, so they load from anywhere. */
async function folderWith(files: Record<string, string>): Promise<string> {
  const folder = await mkdtemp(join(tmpdir(), 'br-migrations-'));
  cleanups.push(() => rm(folder, { recursive: true, force: true }));
  for (const [name, text] of Object.entries(files)) await writeFile(join(folder, name), text);
  return folder;
}

const createTable = (table: string) =>
  `export async function up(db) { await db.schema.createTable('${table}').addColumn('id', 'integer').execute(); }\n` +
  `export async function down(db) { await db.schema.dropTable('${table}').execute(); }\n`;

async function tables(t: TestDatabase): Promise<string[]> {
  const { rows } = await sql<{ name: string }>`
    SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1`.execute(t.db);
  return rows.map((r) => r.name);
}

describe('migrations', () => {
  it('brings an empty database to the latest schema once, recording it in br_migrations', async () => {
    const t = await emptyDatabase();
    const pending = await migrationStatus(t.db);
    expect(pending.length).toBeGreaterThan(0);
    expect(pending.every((m) => m.executedAt === undefined)).toBe(true);

    const applied = await migrateToLatest(t.db);
    expect(applied).toEqual(pending.map((m) => m.name));
    expect(await tables(t)).toEqual(expect.arrayContaining(['br_jobs', 'br_migrations', 'br_migrations_lock']));
    expect((await migrationStatus(t.db)).every((m) => m.executedAt instanceof Date)).toBe(true);
    expect(await migrateToLatest(t.db)).toEqual([]);
  });

  it('loads .ts and .js modules in name order, named without extension, ignoring other files', async () => {
    const folder = await folderWith({
      '002_second.js': createTable('second'),
      '001_first.ts': createTable('first'),
      '001_first.d.ts': 'export {};\n',
      '002_second.js.map': '{}',
      'README.md': 'not a migration',
    });
    expect(Object.keys(await new FolderMigrationProvider(folder).getMigrations())).toEqual(['001_first', '002_second']);
    const t = await emptyDatabase();
    expect(await migrateToLatest(t.db, undefined, folder)).toEqual(['001_first', '002_second']);
    expect(await tables(t)).toEqual(expect.arrayContaining(['first', 'second']));
  });

  it('names the failing migration and rolls back the whole run', async () => {
    const folder = await folderWith({
      '001_ok.js': createTable('kept_only_if_all_succeed'),
      '002_broken.js': 'export async function up(db) { await db.schema.createTable("kept_only_if_all_succeed").addColumn("id", "integer").execute(); }\n',
    });
    const t = await emptyDatabase();
    const logged: string[] = [];
    const log = { info: () => undefined, error: (_: object, message: string) => void logged.push(message) };
    await expect(migrateToLatest(t.db, log, folder)).rejects.toThrow(/^migration 002_broken failed: .*already exists/);
    expect(logged).toEqual([expect.stringContaining('002_broken')]);
    expect(await tables(t)).not.toContain('kept_only_if_all_succeed');
    expect((await migrationStatus(t.db, folder)).map((m) => m.executedAt)).toEqual([undefined, undefined]);
  });

  it('rejects a module without up()', async () => {
    const folder = await folderWith({ '001_empty.js': 'export const nothing = 1;\n' });
    const t = await emptyDatabase();
    await expect(migrateToLatest(t.db, undefined, folder)).rejects.toThrow('migration 001_empty.js does not export an up() function');
  });
});
