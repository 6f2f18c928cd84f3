/**
 * Read-side SQL on `br_uploads` and `br_imports` for the HTTP API and metrics: how long a
 * destination's uploads typically take (the `Retry-After` hint), its latest error, and recent
 * durations and errors for Prometheus. All computed from the database, so every process reports
 * the same figures whichever process did the work.
 */
import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/schema.ts';

type Db = Kysely<Database>;
const ms = (value: number) => sql`${value}::double precision * interval '1 millisecond'`;

/** Median seconds from creation to finish of the destination's last 50 finished uploads (imports included). */
export async function typicalUploadSeconds(db: Db, destinationId: string): Promise<number | null> {
  const { rows } = await sql<{ median: number | null }>`
    SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY seconds)::double precision AS median FROM (
      SELECT extract(epoch FROM finished_at - created_at) AS seconds FROM br_uploads
      WHERE destination_id = ${destinationId} AND state = 'finished' ORDER BY finished_at DESC LIMIT 50) recent
  `.execute(db);
  return rows[0]?.median ?? null;
}

/** The destination's most recent upload or import error, with when it happened. */
export async function latestVendorError(db: Db, destinationId: string): Promise<{ error: string; at: Date } | null> {
  const { rows } = await sql<{ error: string; at: Date }>`
    (SELECT last_error AS error, updated_at AS at FROM br_uploads
      WHERE destination_id = ${destinationId} AND last_error IS NOT NULL ORDER BY id DESC LIMIT 1)
    UNION ALL
    (SELECT last_error, coalesce(finished_at, started_at) FROM br_imports
      WHERE destination_id = ${destinationId} AND last_error IS NOT NULL ORDER BY id DESC LIMIT 1)
    ORDER BY at DESC LIMIT 1
  `.execute(db);
  return rows[0] ?? null;
}

export interface DurationQuantiles {
  destinationId: string;
  kind: 'upload' | 'import';
  count: number;
  p50: number;
  p95: number;
}

/** Quantiles of upload (send to finish) and import (start to finish) durations over the window. */
export async function recentDurations(db: Db, windowMs: number): Promise<DurationQuantiles[]> {
  const { rows } = await sql<{ destination_id: string; kind: 'upload' | 'import'; n: string; p50: number; p95: number }>`
    WITH d AS (
      SELECT destination_id, 'upload' AS kind, extract(epoch FROM finished_at - created_at) AS s FROM br_uploads
        WHERE state = 'finished' AND finished_at > now() - ${ms(windowMs)}
      UNION ALL
      SELECT destination_id, 'import', extract(epoch FROM finished_at - started_at) FROM br_imports
        WHERE state <> 'polling' AND finished_at > now() - ${ms(windowMs)})
    SELECT destination_id, kind, count(*) AS n,
      percentile_cont(0.5) WITHIN GROUP (ORDER BY s)::double precision AS p50,
      percentile_cont(0.95) WITHIN GROUP (ORDER BY s)::double precision AS p95
    FROM d GROUP BY destination_id, kind
  `.execute(db);
  return rows.map((r) => ({ destinationId: r.destination_id, kind: r.kind, count: Number(r.n), p50: r.p50, p95: r.p95 }));
}

/**
 * Upload and import errors recorded within the window, counted by their stable code, for the
 * vendor-errors metric. Rows from before codes were stored count as `other`.
 */
export async function recentVendorErrors(
  db: Db,
  windowMs: number,
): Promise<Array<{ destinationId: string; code: string; count: number }>> {
  const { rows } = await sql<{ destination_id: string; code: string; n: string }>`
    SELECT destination_id, coalesce(error_code, 'other') AS code, count(*) AS n FROM (
      SELECT destination_id, error_code FROM br_uploads
        WHERE last_error IS NOT NULL AND updated_at > now() - ${ms(windowMs)}
      UNION ALL
      SELECT destination_id, error_code FROM br_imports
        WHERE last_error IS NOT NULL AND coalesce(finished_at, next_poll_at) > now() - ${ms(windowMs)}
    ) recent GROUP BY 1, 2
  `.execute(db);
  return rows.map((r) => ({ destinationId: r.destination_id, code: r.code, count: Number(r.n) }));
}

/** Jobs whose outcome a vendor left unconfirmed, summed over imports finished within the window. */
export async function recentUnconfirmedJobs(db: Db, windowMs: number): Promise<Array<{ destinationId: string; count: number }>> {
  const { rows } = await sql<{ destination_id: string; n: string }>`
    SELECT destination_id, sum(unconfirmed_jobs) AS n FROM br_imports
    WHERE unconfirmed_jobs > 0 AND finished_at > now() - ${ms(windowMs)}
    GROUP BY 1
  `.execute(db);
  return rows.map((r) => ({ destinationId: r.destination_id, count: Number(r.n) }));
}
