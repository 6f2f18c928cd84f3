/**
 * Schema migrations: every module in the repo's `migrations/` folder, applied in name order with
 * kysely's Migrator. The folder is found relative to this module, so the same code works from
 * src/ under tsx (migrations/*.ts) and from the compiled dist/ tree (dist/migrations/*.js).
 */
import { readdir } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Migrator, type Kysely, type Migration, type MigrationProvider } from 'kysely';

export const MIGRATION_TABLE = 'br_migrations';
export const MIGRATION_LOCK_TABLE = 'br_migrations_lock';

export const defaultMigrationsDir = fileURLToPath(new URL('../../migrations', import.meta.url));

/** The logging migrateToLatest needs; a pino logger fits. */
export interface MigrationLog {
  info(details: object, message: string): void;
  error(details: object, message: string): void;
}

export interface MigrationState {
  name: string;
  executedAt: Date | undefined;
}

/** Loads `*.ts` / `*.js` migration modules from a folder, named without their extension. */
export class FolderMigrationProvider implements MigrationProvider {
  constructor(private readonly folder: string = defaultMigrationsDir) {}

  async getMigrations(): Promise<Record<string, Migration>> {
    const files = (await readdir(this.folder)).filter(isMigrationFile).sort();
    // Names drop the extension so a database migrated from src/ (.ts) is still up to date when
    // the compiled build (.js) runs. If both exist, the one matching this module's kind wins.
    const preferred = extname(fileURLToPath(import.meta.url));
    const chosen = new Map<string, string>();
    for (const file of files) {
      const name = file.slice(0, -extname(file).length);
      const existing = chosen.get(name);
      if (!existing || extname(file) === preferred) chosen.set(name, file);
    }
    const migrations: Record<string, Migration> = {};
    for (const [name, file] of chosen) {
      const module = (await import(pathToFileURL(join(this.folder, file)).href)) as Partial<Migration>;
      if (typeof module.up !== 'function') throw new Error(`migration ${file} does not export an up() function`);
      migrations[name] = { up: module.up, ...(typeof module.down === 'function' ? { down: module.down } : {}) };
    }
    return migrations;
  }
}

function isMigrationFile(file: string): boolean {
  if (file.endsWith('.d.ts') || file.startsWith('.')) return false;
  return file.endsWith('.ts') || file.endsWith('.js');
}

function migrator(db: Kysely<any>, folder?: string): Migrator {
  return new Migrator({
    db,
    provider: new FolderMigrationProvider(folder),
    migrationTableName: MIGRATION_TABLE,
    migrationLockTableName: MIGRATION_LOCK_TABLE,
  });
}

/**
 * Applies all pending migrations (in one transaction, under kysely's migration lock, so concurrent
 * starters do not race). Throws an Error naming the migration that failed.
 */
export async function migrateToLatest(
  db: Kysely<any>,
  log?: MigrationLog,
  folder?: string,
): Promise<string[]> {
  const { error, results = [] } = await migrator(db, folder).migrateToLatest();
  const applied = results.filter((r) => r.status === 'Success').map((r) => r.migrationName);
  if (error !== undefined) {
    const failed = results.find((r) => r.status === 'Error')?.migrationName;
    const cause = error instanceof Error ? error : new Error(String(error));
    const message = failed
      ? `migration ${failed} failed: ${cause.message}`
      : `migrations could not run: ${cause.message}`;
    // A failed migration is a bug worth its stack; not reaching the database is the operator's to
    // fix, and the caller reports it in one line.
    if (failed) log?.error({ err: cause, migration: failed }, message);
    throw new Error(message, { cause });
  }
  if (applied.length > 0) log?.info({ migrations: applied }, `applied ${applied.length} migration(s)`);
  return applied;
}

/** Every known migration with when it ran; executedAt is undefined for pending ones. */
export async function migrationStatus(db: Kysely<any>, folder?: string): Promise<MigrationState[]> {
  const migrations = await migrator(db, folder).getMigrations();
  return migrations.map((m) => ({ name: m.name, executedAt: m.executedAt }));
}
