/**
 * Database access for commands. Always opened as a client, so in embedded mode (no DATABASE_URL)
 * the CLI talks to the running daemon's database instead of starting a second one. Failures are
 * rewritten for people: which database was tried, what to check, which command to run.
 */
import type { Kysely } from 'kysely';
import type { AppConfig } from '../config.ts';
import { openDatabase, redactUrl, type DatabaseHandle } from '../db/connect.ts';
import type { Database } from '../db/schema.ts';
import { CliError, EXIT, type CliContext } from './command.ts';
import { describeError } from './context.ts';

/** What we call the database in messages when opening it failed before it could tell us. */
export function describeTarget(config: AppConfig): string {
  return config.databaseUrl ? redactUrl(config.databaseUrl) : `the embedded database in ${config.dataDir}`;
}

function nextStep(config: AppConfig): string {
  return config.databaseUrl
    ? 'Check DATABASE_URL (host, port, user, password, database name) and that PostgreSQL is running.'
    : `No DATABASE_URL is set, so the CLI uses the embedded database in ${config.dataDir} (through the ` +
        'daemon when one is running): check BATCH_ROUTER_DATA_DIR, or set DATABASE_URL to your PostgreSQL.';
}

const CONNECTION_CODES = new Set([
  'ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOENT',
  '28P01', '28000', '3D000', '57P03', '53300',
]);

/**
 * True when the database could not be reached or would not let us in (wrong host, user, password or
 * database name). Follows `cause`: migrations wrap the driver's error ("migrations could not run:
 * database "x" does not exist"), and that wrapper has no code of its own.
 */
export function isConnectionError(error: unknown): boolean {
  for (let current = error, depth = 0; current != null && depth < 5; current = (current as { cause?: unknown }).cause, depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && (CONNECTION_CODES.has(code) || code.startsWith('08'))) return true;
    if (/connect|connection terminated|timeout exceeded when trying to connect/i.test(describeError(current))) return true;
  }
  return false;
}

/**
 * Opens the database as a client (so in embedded mode we reach the daemon's database instead of
 * starting a second one), runs `fn`, and always closes it. Errors are rewritten for people:
 * unreachable database → where and what to check; missing tables → run migrate.
 */
export async function withDatabase<T>(
  ctx: CliContext,
  fn: (db: Kysely<Database>, handle: DatabaseHandle) => Promise<T>,
): Promise<T> {
  const config = ctx.config();
  // Failures reach the operator through our own messages below, with what to do next. The pool's
  // reports of dropped idle connections would only repeat them (and fire harmlessly while an
  // in-process embedded database shuts down under a pool that just ended), so debug only.
  const log = ctx.log().isLevelEnabled('debug') ? ctx.log() : ctx.log().child({}, { level: 'fatal' });
  let handle: DatabaseHandle;
  try {
    handle = await openDatabase({
      databaseUrl: config.databaseUrl || undefined,
      dataDir: config.dataDir,
      embeddedPort: config.embeddedPort,
      preparedStatements: config.preparedStatements,
      // One command runs one statement at a time; a second connection covers a transaction.
      poolSize: 2,
      role: 'client',
      log,
    });
  } catch (error) {
    throw new CliError(`cannot open ${describeTarget(config)}: ${describeError(error)}\n${nextStep(config)}`, EXIT.failure, { cause: error });
  }
  try {
    return await fn(handle.db, handle);
  } catch (error) {
    throw explainDatabaseError(error, handle.displayUrl, config);
  } finally {
    await handle.close().catch(() => undefined);
  }
}

/** True for PostgreSQL's "relation does not exist": the schema was never migrated. */
export function isMissingTable(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === '42P01';
}

export function explainDatabaseError(error: unknown, displayUrl: string, config: AppConfig): unknown {
  if (error instanceof CliError) return error;
  if (isMissingTable(error)) {
    return new CliError(
      `the database at ${displayUrl} has no batch-router tables yet: run "batch-router migrate" ` +
        '(or start the daemon, which migrates on start unless BATCH_ROUTER_AUTO_MIGRATE=false)',
      EXIT.failure,
      { cause: error },
    );
  }
  if (isConnectionError(error)) {
    return new CliError(`cannot use the database at ${displayUrl}: ${describeError(error)}\n${nextStep(config)}`, EXIT.failure, { cause: error });
  }
  return error;
}
