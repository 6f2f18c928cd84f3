/**
 * The scale workload's starting point: a database holding batch-router's schema and millions of
 * finished jobs, built once per `npm run bench` and copied for every scale run (CREATE DATABASE
 * ... TEMPLATE), so each run starts from identical files without paying the load again.
 *
 * After the load comes VACUUM ANALYZE, the state autovacuum reaches on its own some minutes after
 * a bulk of inserts: visibility map set (index-only scans possible), statistics current. Without
 * it the first run would also pay for setting hint bits on millions of rows, which no production
 * system pays in the middle of its work.
 */
import { tmpdir } from 'node:os';
import type pg from 'pg';
import { migrateToLatest } from '../../src/db/migrate.ts';
import { openDatabase } from '../../src/db/connect.ts';
import { loadFinishedHistory } from '../lib/bulk-load.ts';
import { createFreshDatabase, type FreshDatabase } from '../lib/pg.ts';
import { DESTINATION_ID } from '../systems/batch-router-webhook.ts';

/** Where the history's jobs belong: to the destination being drained, or to another one. */
export type HistoryDestination = 'same' | 'other';

export interface HistoryTemplate {
  /** Database name to pass as `templateDatabase` to runBurnDown. */
  readonly name: string;
  readonly rows: number;
  readonly destination: HistoryDestination;
  /** pg_database_size of the template, for an empty template copied at the same cost. */
  readonly bytes: number;
  drop(): Promise<void>;
}

/** A template with batch-router's schema, no job, and a table of padding (see createPaddedEmptyTemplate). */
export interface PaddedEmptyTemplate {
  readonly name: string;
  readonly bytes: number;
  drop(): Promise<void>;
}

export async function createHistoryTemplate(
  adminUrl: string,
  options: { rows: number; destination: HistoryDestination; progress: (line: string) => void },
): Promise<HistoryTemplate> {
  const { rows, destination, progress } = options;
  const started = performance.now();
  const fresh = await migratedDatabase(adminUrl);
  try {
    const destinationId = destination === 'same' ? DESTINATION_ID : 'bench-history-elsewhere';
    progress(`scale: loading ${rows.toLocaleString('en-US')} finished jobs of ${destinationId} into ${fresh.name}`);
    await loadFinishedHistory(fresh.client, { rows, destinationId, progress });
    progress('scale: VACUUM ANALYZE');
    await fresh.client.query('VACUUM ANALYZE');
    const bytes = await databaseBytes(fresh.client);
    progress(`scale: template ready in ${((performance.now() - started) / 1000).toFixed(0)} s (${(bytes / 2 ** 20).toFixed(0)} MB)`);
    // A template must have no connection open when it is copied.
    await fresh.client.end();
    return { name: fresh.name, rows, destination, bytes, drop: () => fresh.drop() };
  } catch (error) {
    await fresh.drop();
    throw error;
  }
}

/**
 * The scale row's baseline: batch-router's schema with no job in it, and as many bytes as the
 * history template in a table of its own (`bench_padding`), so a copy of it costs the machine
 * what a copy of the history costs. Copying gigabytes just before a run slows that run whatever
 * it runs: with rounds of 500,000 on an empty store, a run that followed a 2.4 GB copy enqueued
 * 20% slower and delivered 6% slower than one that did not (stop 24's probe), enqueue included,
 * which never reads the history. Against this baseline the scale row's ratio is the cost of the
 * history alone; the ratio to plain W1 stays in the table beside it.
 */
export async function createPaddedEmptyTemplate(
  adminUrl: string,
  options: { bytes: number; progress: (line: string) => void },
): Promise<PaddedEmptyTemplate> {
  const fresh = await migratedDatabase(adminUrl);
  try {
    // Rows of 1,900 bytes stay below the TOAST threshold, so they are stored as written, four to
    // a page, uncompressed: 2 KiB of table per row.
    const padRows = Math.max(0, Math.round((options.bytes - (await databaseBytes(fresh.client))) / 2048));
    await fresh.client.query('CREATE TABLE bench_padding (filler text NOT NULL)');
    await fresh.client.query(`INSERT INTO bench_padding SELECT lpad('', 1900, md5(g::text)) FROM generate_series(1, $1::bigint) g`, [padRows]);
    await fresh.client.query('VACUUM ANALYZE');
    const bytes = await databaseBytes(fresh.client);
    options.progress(`scale: empty template padded to ${(bytes / 2 ** 20).toFixed(0)} MB`);
    await fresh.client.end();
    return { name: fresh.name, bytes, drop: () => fresh.drop() };
  } catch (error) {
    await fresh.drop();
    throw error;
  }
}

/** A new database with batch-router's schema; the caller drops it if what follows fails. */
async function migratedDatabase(adminUrl: string): Promise<FreshDatabase> {
  const fresh = await createFreshDatabase(adminUrl);
  try {
    const database = await openDatabase({ databaseUrl: fresh.url, dataDir: tmpdir(), poolSize: 1, role: 'client' });
    try {
      await migrateToLatest(database.db);
    } finally {
      await database.close();
    }
    return fresh;
  } catch (error) {
    await fresh.drop();
    throw error;
  }
}

async function databaseBytes(client: pg.Client): Promise<number> {
  const { rows } = await client.query<{ bytes: string }>('SELECT pg_database_size(current_database()) AS bytes');
  return Number(rows[0]!.bytes);
}
