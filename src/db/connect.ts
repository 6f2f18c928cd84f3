/**
 * Opens the job store: a PostgreSQL server when a URL is configured, otherwise the embedded PGlite
 * database (embedded.ts). Both are reached through the same pg pool and kysely dialect, so every
 * query runs the same code path in production, in the CLI and in tests.
 */
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import type { Logger } from 'pino';
import { maskConnectionUrl } from '../util/connection-url.ts';
import type { EmbeddedTarget } from './embedded.ts';
import { PreparingClient } from './prepared-statements.ts';
import type { Database } from './schema.ts';

export interface DatabaseHandle {
  db: Kysely<Database>;
  pool: pg.Pool;
  /** url with password removed, for logs */
  displayUrl: string;
  embedded: boolean;
  /** A new client outside the pool, to the same database (for a long-lived LISTEN); not yet connected. */
  dedicatedClient?: () => Promise<pg.Client>;
  close(): Promise<void>;
}

export interface OpenDatabaseOptions {
  databaseUrl?: string;
  dataDir: string;
  embeddedPort?: number;
  poolSize?: number;
  role: 'daemon' | 'client';
  /** Named prepared statements for the hot path on a PostgreSQL server (default true; never embedded). */
  preparedStatements?: boolean;
  log?: Logger;
  /**
   * What to do when the embedded database fails in this process (PGlite threw). Default: log why
   * and exit with status 1 at once. Nothing can be done with the database afterwards, and exiting
   * is what every job's lease and the restart of a process supervisor are built for.
   */
  onEmbeddedFailure?: (error: Error) => void;
}

const INT8_OID = 20;
const TIMESTAMPTZ_OID = 1184;
// Captured at load so another module re-registering pg's global parsers cannot change ours.
const parseTimestamptz = pg.types.getTypeParser(TIMESTAMPTZ_OID, 'text');

/**
 * Per-pool parsers: bigint ids and counters stay strings (exact beyond 2^53), timestamptz become
 * Dates. These are pg's defaults, pinned here because pg.types is process-global.
 */
const typeParsers: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') => {
    if (format !== 'binary') {
      if (oid === INT8_OID) return (value: string) => value;
      if (oid === TIMESTAMPTZ_OID) return parseTimestamptz;
    }
    return pg.types.getTypeParser(oid, format);
  }) as pg.CustomTypesConfig['getTypeParser'],
};

export async function openDatabase(options: OpenDatabaseOptions): Promise<DatabaseHandle> {
  const max = options.poolSize ?? 10;
  if (options.databaseUrl) {
    const pool = createPool({ connectionString: options.databaseUrl, max }, options.log, options.preparedStatements ?? true);
    return handle(pool, redactUrl(options.databaseUrl), false, async () => {});
  }
  // Loaded only here: PGlite's WASM costs ~40 MB of RSS a server-backed process should not carry.
  const { openEmbedded } = await import('./embedded.ts');
  const target: EmbeddedTarget = await openEmbedded({
    dataDir: options.dataDir,
    role: options.role,
    port: options.embeddedPort,
    log: options.log,
    onFailure: options.onEmbeddedFailure ?? ((error) => exitOnEmbeddedFailure(error, options.log)),
  });
  // PGlite has one database and accepts any user without a password.
  const pool = createPool({ host: target.host, port: target.port, user: 'postgres', database: 'postgres', max }, options.log);
  const where = target.inProcess ? options.dataDir : `${options.dataDir}, served by the daemon`;
  return handle(pool, `postgres://postgres@${target.host}:${target.port}/postgres (embedded: ${where})`, true, () => target.close());
}

function exitOnEmbeddedFailure(error: Error, log: Logger | undefined): void {
  const message =
    `the embedded database failed (${error.message}) and cannot be used again by this process; ` +
    'batch-router stops now. Restart it: jobs in flight are recovered from the data directory.';
  if (log) log.fatal({ err: error }, message);
  else process.stderr.write(`batch-router: ${message}\n`);
  process.exit(1);
}

/**
 * A pg pool with our type parsers whose connection errors are logged instead of thrown. With
 * `prepare` (PostgreSQL servers), statements marked `PREPARED` go out as named prepared statements.
 */
export function createPool(config: pg.PoolConfig, log?: Logger, prepare = false): pg.Pool {
  const pool = new pg.Pool({ ...config, types: typeParsers, ...(prepare ? { Client: PreparingClient } : {}) });
  const report = (err: Error) => {
    if (log) log.error({ err }, 'database connection error');
    else process.emitWarning(`database connection error: ${err.message}`);
  };
  // An idle client's error (server restart, network drop) is emitted on the pool; without a
  // listener it would be an uncaught exception and take the daemon down.
  pool.on('error', report);
  // A checked-out client that is not running a query emits 'error' on itself; kysely adds no
  // listener, so give every client one. The next query on it fails and the pool replaces it, so
  // debug is enough here (an idle client's error also reaches the pool listener above).
  pool.on('connect', (client) => {
    client.on('error', (err) => log?.debug({ err }, 'database client error'));
    // Queued before any query of whoever asked for the client. The router's statements are short
    // and planned over every job partition: once history makes their estimated cost pass
    // jit_above_cost, the server JIT-compiles them on every execution, 20–70 ms each, for work
    // that takes under a millisecond (issue 13's 5M-history row: 0.31× of W1 with JIT, see
    // docs/store-design.md). Session-wide here; the claim transaction also sets it locally, for
    // poolers that hand each transaction another server connection.
    client.query('SET jit = off').catch((err: Error) => log?.debug({ err }, 'could not turn JIT off for this connection'));
  });
  return pool;
}

function handle(pool: pg.Pool, displayUrl: string, embedded: boolean, closeTarget: () => Promise<void>): DatabaseHandle {
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  let closing: Promise<void> | undefined;
  return {
    db,
    pool,
    displayUrl,
    embedded,
    dedicatedClient: async () => new pg.Client({ ...pool.options, types: typeParsers }),
    close: () =>
      (closing ??= (async () => {
        try {
          await db.destroy(); // ends the pool too
        } finally {
          await closeTarget();
        }
      })()),
  };
}

/** Drops the password, from the userinfo and from secret-looking query parameters; hides an oddly shaped string whole. */
export function redactUrl(url: string): string {
  return maskConnectionUrl(url, '') ?? '(connection string hidden)';
}
