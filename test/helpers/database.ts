/**
 * A fresh, migrated database per test (or per describe block).
 *
 * With DATABASE_URL: a new database `br_test_<epoch seconds>_<random>` cloned from this run's template,
 * which global-setup.ts migrates once per run; cloning a template takes milliseconds where
 * migrating does not. The epoch in the name lets a later run drop databases left by crashed runs.
 *
 * Without DATABASE_URL: an in-memory PGlite served on a loopback port by the same wire server the
 * embedded daemon uses, so tests still go through pg and kysely and child processes can connect
 * to `url`. The migrated image is built once per worker and loaded into each new instance.
 */
import { randomBytes } from 'node:crypto';
import { PGlite } from '@electric-sql/pglite';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { createPool } from '../../src/db/connect.ts';
import { migrateToLatest } from '../../src/db/migrate.ts';
import { servePglite } from '../../src/db/pglite-wire.ts';
import type { Database } from '../../src/db/schema.ts';

/**
 * The migrated template of this run, named by global-setup.ts (a test database name of its own, so
 * two runs against one server, a developer's and CI's, never rebuild each other's template).
 */
export const TEMPLATE_DATABASE = process.env.BR_TEST_TEMPLATE ?? 'br_template';
export const TEST_DATABASE_PREFIX = 'br_test_';

/** For `describe.skipIf(requiresServer)`: true when only the embedded fallback is available. */
export const requiresServer = !process.env.DATABASE_URL;
export const requiresServerReason =
  'needs a PostgreSQL server (set DATABASE_URL): without one, tests run on PGlite, which serialises ' +
  'all connections into one session, so concurrent transactions, row-lock waits and SKIP LOCKED ' +
  'between sessions cannot be exercised';

export interface TestDatabase {
  url: string;
  db: Kysely<Database>;
  pool: pg.Pool;
  /** True on a real PostgreSQL server, false on the PGlite fallback. */
  serverBacked: boolean;
  close(): Promise<void>;
}

export interface TestDatabaseOptions {
  /** false: an empty database with no schema at all (for testing migrations themselves). */
  migrated?: boolean;
}

export async function createTestDatabase({ migrated = true }: TestDatabaseOptions = {}): Promise<TestDatabase> {
  const serverUrl = process.env.DATABASE_URL;
  if (serverUrl) return cloneTemplate(serverUrl, migrated ? TEMPLATE_DATABASE : 'template0');
  return servePgliteDatabase(migrated);
}

/** The URL of another database on the same server. */
export function databaseUrl(serverUrl: string, name: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/** When a test database was created, from its name; undefined for names we did not make. */
export function testDatabaseCreatedAt(name: string): Date | undefined {
  const match = new RegExp(`^${TEST_DATABASE_PREFIX}(\\d+)_[0-9a-f]+$`).exec(name);
  return match ? new Date(Number(match[1]) * 1000) : undefined;
}

/** Runs one statement on the server's own database (CREATE/DROP DATABASE cannot run in a pool transaction). */
export async function adminQuery(serverUrl: string, statement: string): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    return await client.query(statement);
  } finally {
    await client.end();
  }
}

async function cloneTemplate(serverUrl: string, template: string): Promise<TestDatabase> {
  const name = `${TEST_DATABASE_PREFIX}${Math.floor(Date.now() / 1000)}_${randomBytes(4).toString('hex')}`;
  await adminQuery(serverUrl, `CREATE DATABASE ${name} TEMPLATE ${template}`);
  const url = databaseUrl(serverUrl, name);
  // As the daemon connects to a server: hot statements prepared (src/db/prepared-statements.ts).
  const pool = createPool({ connectionString: url, max: 10 }, undefined, true);
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  let closing: Promise<void> | undefined;
  return {
    url,
    db,
    pool,
    serverBacked: true,
    close: () =>
      (closing ??= (async () => {
        await db.destroy();
        // KEEP_TEST_DB=1 leaves it for inspection; the next run's global setup drops it after an hour.
        if (process.env.KEEP_TEST_DB === '1') {
          console.info(`kept test database ${url}`);
          return;
        }
        await adminQuery(serverUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      })()),
  };
}

const images = new Map<boolean, Promise<Blob>>();

/**
 * A PGlite data directory as a tarball, empty or migrated, built once per worker process:
 * creating a cluster takes seconds, loading an image a fraction of one.
 */
function pgliteImage(migrated: boolean): Promise<Blob> {
  let image = images.get(migrated);
  if (!image) {
    image = buildImage(migrated).catch((error: unknown) => {
      images.delete(migrated); // let the next test try again rather than repeat this failure
      throw error;
    });
    images.set(migrated, image);
  }
  return image;
}

async function buildImage(migrated: boolean): Promise<Blob> {
  const pglite = await PGlite.create();
  try {
    if (migrated) {
      const server = await servePglite(pglite);
      const pool = createPool({ host: server.host, port: server.port, user: 'postgres', database: 'postgres', max: 1 });
      const db = new Kysely<any>({ dialect: new PostgresDialect({ pool }) });
      try {
        await migrateToLatest(db);
      } finally {
        await db.destroy();
        await server.close();
      }
    }
    return await pglite.dumpDataDir('none');
  } finally {
    await pglite.close();
  }
}

async function servePgliteDatabase(migrated: boolean): Promise<TestDatabase> {
  const pglite = await PGlite.create({ loadDataDir: await pgliteImage(migrated) });
  const server = await servePglite(pglite);
  const url = `postgres://postgres@${server.host}:${server.port}/postgres`;
  const pool = createPool({ connectionString: url, max: 10 });
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  let closing: Promise<void> | undefined;
  return {
    url,
    db,
    pool,
    serverBacked: false,
    close: () =>
      (closing ??= (async () => {
        await db.destroy();
        await server.close();
        await pglite.close();
      })()),
  };
}
