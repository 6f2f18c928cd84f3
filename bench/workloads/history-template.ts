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
import { migrateToLatest } from '../../src/db/migrate.ts';
import { openDatabase } from '../../src/db/connect.ts';
import { loadFinishedHistory } from '../lib/bulk-load.ts';
import { createFreshDatabase } from '../lib/pg.ts';
import { DESTINATION_ID } from '../systems/batch-router-webhook.ts';

/** Where the history's jobs belong: to the destination being drained, or to another one. */
export type HistoryDestination = 'same' | 'other';

export interface HistoryTemplate {
  /** Database name to pass as `templateDatabase` to runBurnDown. */
  readonly name: string;
  readonly rows: number;
  readonly destination: HistoryDestination;
  drop(): Promise<void>;
}

export async function createHistoryTemplate(
  adminUrl: string,
  options: { rows: number; destination: HistoryDestination; progress: (line: string) => void },
): Promise<HistoryTemplate> {
  const { rows, destination, progress } = options;
  const started = performance.now();
  const fresh = await createFreshDatabase(adminUrl);
  try {
    const database = await openDatabase({ databaseUrl: fresh.url, dataDir: tmpdir(), poolSize: 1, role: 'client' });
    try {
      await migrateToLatest(database.db);
    } finally {
      await database.close();
    }
    const destinationId = destination === 'same' ? DESTINATION_ID : 'bench-history-elsewhere';
    progress(`scale: loading ${rows.toLocaleString('en-US')} finished jobs of ${destinationId} into ${fresh.name}`);
    await loadFinishedHistory(fresh.client, { rows, destinationId, progress });
    progress('scale: VACUUM ANALYZE');
    await fresh.client.query('VACUUM ANALYZE');
    const { rows: size } = await fresh.client.query<{ size: string }>('SELECT pg_size_pretty(pg_database_size(current_database())) AS size');
    progress(`scale: template ready in ${((performance.now() - started) / 1000).toFixed(0)} s (${size[0]!.size})`);
    // A template must have no connection open when it is copied.
    await fresh.client.end();
  } catch (error) {
    await fresh.drop();
    throw error;
  }
  return { name: fresh.name, rows, destination, drop: () => fresh.drop() };
}
