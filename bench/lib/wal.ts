/**
 * WAL volume of a measured window: every row change a job store makes is paid for twice, once in
 * the table and once in the write-ahead log (then again by replicas and backups), so bytes of WAL
 * per job are a cost of their own, next to CPU.
 *
 * pg_current_wal_lsn() is a server-wide position: whatever else writes on the server during the
 * window (another database's tests, autovacuum elsewhere) is counted too. The runner's own queries
 * in the window are read-only (the sink is asked over HTTP, the database only "is anything
 * unfinished?"), so they add nothing beyond the opportunistic page pruning the consumer's own
 * reads of the same pages would have triggered anyway.
 */
import type pg from 'pg';

/** The server's current WAL insert position, or null when it cannot say (e.g. a standby). */
export async function walPosition(client: pg.Client): Promise<string | null> {
  try {
    const { rows } = await client.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn');
    return rows[0]!.lsn;
  } catch {
    return null;
  }
}

/** Bytes of WAL written since `from` (a position from {@link walPosition}); null if unknown. */
export async function walBytesSince(client: pg.Client, from: string | null): Promise<number | null> {
  if (from === null) return null;
  try {
    const { rows } = await client.query<{ bytes: string }>(
      'SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1::pg_lsn)::bigint::text AS bytes',
      [from],
    );
    return Number(rows[0]!.bytes);
  } catch {
    return null;
  }
}
