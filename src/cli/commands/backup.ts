/**
 * `batch-router backup <file>` and `restore <file>`: the embedded database to and from a SQL file
 * written by PGlite's pg_dump (src/db/backup/). The same file loads into a PostgreSQL server with
 * psql, which is how a deployment moves off the embedded database (README).
 */
import { resolve } from 'node:path';
import { BackupError, backupEmbedded, restoreEmbedded } from '../../db/backup/backup.ts';
import { migrateToLatest } from '../../db/migrate.ts';
import { optFlag } from '../args.ts';
import { CliError, EXIT, type CliContext, type Command } from '../command.ts';
import { withDatabase } from '../database.ts';
import { plural } from '../output.ts';

function embeddedOnly(ctx: CliContext, verb: string): string {
  const { dataDir, databaseUrl } = ctx.config();
  if (databaseUrl !== '') {
    throw new CliError(
      `DATABASE_URL is set, so there is no embedded database to ${verb}; use pg_dump/psql for a PostgreSQL server, or unset DATABASE_URL`,
      EXIT.usage,
    );
  }
  return dataDir;
}

function asCliError(error: unknown): unknown {
  if (!(error instanceof BackupError)) return error;
  const usage = error.code === 'target_exists' || error.code === 'not_empty' || error.code === 'not_a_backup' || error.code === 'no_database';
  return new CliError(error.message, usage ? EXIT.usage : EXIT.failure, { cause: error });
}

export const backupCommand: Command = {
  name: 'backup',
  async run(input, ctx) {
    const dataDir = embeddedOnly(ctx, 'back up');
    const file = resolve(input.positionals[0]!);
    try {
      const result = await backupEmbedded(dataDir, file, { force: optFlag(input, 'force') });
      const via = result.throughDaemon ? ' (through the running daemon)' : '';
      ctx.print(`${file}: backed up ${dataDir}${via}, ${result.bytes} bytes`);
      return EXIT.ok;
    } catch (error) {
      throw asCliError(error);
    }
  },
};

export const restoreCommand: Command = {
  name: 'restore',
  async run(input, ctx) {
    const dataDir = embeddedOnly(ctx, 'restore into');
    const file = resolve(input.positionals[0]!);
    try {
      await restoreEmbedded(dataDir, file, { force: optFlag(input, 'force') });
    } catch (error) {
      throw asCliError(error);
    }
    ctx.print(`${dataDir}: restored from ${file}`);
    // A backup from an older release is brought up to this release's schema at once.
    const applied = await withDatabase(ctx, (db) => migrateToLatest(db, ctx.log()));
    ctx.print(applied.length === 0 ? 'schema up to date' : `applied ${plural(applied.length, 'migration')}: ${applied.join(', ')}`);
    return EXIT.ok;
  },
};
