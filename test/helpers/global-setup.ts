/**
 * vitest globalSetup: runs once per `vitest run`, before any worker starts. It compiles the CLI
 * the tests' child processes run (cli-build.ts). With DATABASE_URL it also builds and migrates this
 * run's template database that createTestDatabase() clones, and drops test databases that earlier
 * runs left behind (crashed runs, KEEP_TEST_DB=1). Without it each worker builds its own PGlite image.
 */
import { Kysely, PostgresDialect } from 'kysely';
import { createPool } from '../../src/db/connect.ts';
import { migrateToLatest } from '../../src/db/migrate.ts';
import { randomBytes } from 'node:crypto';
import type { TestProject } from 'vitest/node';
import { CLI_BUILD_ENV, buildCli } from './cli-build.ts';
import { TEST_DATABASE_PREFIX, adminQuery, databaseUrl, testDatabaseCreatedAt } from './database.ts';

// Old enough that no test of a run still going on (even a slow one elsewhere) can own it.
const LEFTOVER_AGE_MS = 60 * 60 * 1000;

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // Set before the workers fork, so they inherit it (see cli-runner.ts).
  const cli = await buildCli();
  process.env[CLI_BUILD_ENV] = cli.entry;
  project.onTestsRerun(() => cli.rebuild());
  const dropTemplate = await prepareTemplate();
  return async () => {
    cli.remove();
    await dropTemplate?.();
  };
}

async function prepareTemplate(): Promise<(() => Promise<void>) | undefined> {
  const serverUrl = process.env.DATABASE_URL;
  if (!serverUrl) return undefined;
  // Set before the workers fork, so they inherit it (see TEMPLATE_DATABASE in database.ts).
  const template = `${TEST_DATABASE_PREFIX}${Math.floor(Date.now() / 1000)}_${randomBytes(4).toString('hex')}`;
  process.env.BR_TEST_TEMPLATE = template;

  const { rows } = await adminQuery(
    serverUrl,
    `SELECT datname FROM pg_database WHERE starts_with(datname, '${TEST_DATABASE_PREFIX}')`,
  );
  const cutoff = Date.now() - LEFTOVER_AGE_MS;
  for (const { datname } of rows as Array<{ datname: string }>) {
    const createdAt = testDatabaseCreatedAt(datname);
    if (createdAt && createdAt.getTime() < cutoff) {
      await adminQuery(serverUrl, `DROP DATABASE IF EXISTS ${datname} WITH (FORCE)`);
    }
  }

  // Built anew every run so a changed migration is always what the tests see.
  await adminQuery(serverUrl, `CREATE DATABASE ${template}`);
  // One connection, closed before any test clones the template: CREATE DATABASE ... TEMPLATE
  // fails while anyone is connected to the source.
  const pool = createPool({ connectionString: databaseUrl(serverUrl, template), max: 1 });
  const db = new Kysely<any>({ dialect: new PostgresDialect({ pool }) });
  try {
    await migrateToLatest(db);
  } finally {
    await db.destroy();
  }
  return async () => {
    await adminQuery(serverUrl, `DROP DATABASE IF EXISTS ${template} WITH (FORCE)`);
  };
}
