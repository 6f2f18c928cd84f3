/**
 * What the job store takes on disk, read from the catalog (no table scans, so cheap enough to
 * ask every few seconds during the soak): the job tables' partitions plus br_uploads, the job
 * partitions that exist, and the whole database.
 */
import { readFileSync } from 'node:fs';
import type pg from 'pg';

export interface StoreFootprint {
  /** pg_total_relation_size (heap, indexes, TOAST) over every job-table partition and br_uploads. */
  jobTableBytes: number;
  databaseBytes: number;
  /** Names of the br_job_rows partitions (p<n>; DEFAULT excluded), made ahead ones included. */
  partitions: string[];
}

export async function storeFootprint(client: pg.Client): Promise<StoreFootprint> {
  const { rows } = await client.query<{ bytes: string; database: string; partitions: string[] | null }>(`
    SELECT
      (SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c
        WHERE c.relkind = 'r' AND (c.relname ~ '^br_job_(rows|payloads|exceptions)_(p[0-9]+|default)$' OR c.relname = 'br_uploads')
      )::text AS bytes,
      pg_database_size(current_database())::text AS database,
      (SELECT array_agg(relname::text ORDER BY relname) FROM pg_class WHERE relkind = 'r' AND relname ~ '^br_job_rows_p[0-9]+$') AS partitions`);
  const row = rows[0]!;
  return { jobTableBytes: Number(row.bytes), databaseBytes: Number(row.database), partitions: row.partitions ?? [] };
}

/** Current resident set size of a process of this machine, in MiB (VmRSS of /proc/<pid>/status). */
export function residentMb(pid: number): number | null {
  try {
    const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : null;
  } catch {
    return null;
  }
}
