/**
 * SQL dumps of the embedded database with PGlite's own pg_dump (@electric-sql/pglite-tools),
 * either of a PGlite opened in this process or, through a blocking wire client, of the one a
 * running daemon serves.
 *
 * Version note: pglite-tools 0.4.8 (the newest) declares PGlite 0.5.8 exactly as its peer, while
 * we run ^0.5.17; package.json overrides that peer, and test/cli/backup.slow.test.ts proves the pair
 * by a dump, a restore and a load into PostgreSQL. Revisit the override when pglite-tools catches up.
 */
import type { PGlite } from '@electric-sql/pglite';
import { pgDump } from '@electric-sql/pglite-tools/pg_dump';
import { WHOLE_SESSION_APPLICATION_NAME } from '../pglite-wire-connection.ts';
import { openSyncWireClient } from './sync-wire-client.ts';

/** How long one answer from a running daemon may take before the backup gives up. */
const ANSWER_TIMEOUT_MS = 5 * 60_000;

/**
 * A column option only PGlite understands. PGlite (0.5.17) records `pg_attver=<n>` as an option of
 * every column and pg_dump copies it out in `ALTER TABLE … ALTER COLUMN … SET (…)`, which
 * PostgreSQL rejects ("unrecognized parameter"); PGlite sets it again by itself on restore. The
 * option is taken out of the list, and a statement left with none is dropped: the job partitions'
 * `n_distinct` (migration 2026-12-07) shares the list with it.
 */
const COLUMN_OPTIONS_LINE = /^(ALTER TABLE ONLY \S+ ALTER COLUMN \S+ SET \()([^)\n]*)\);\n/gm;
const PGLITE_ONLY_OPTION = /^pg_attver=\d+$/;
/** pg_dump 17+ writes this setting; PostgreSQL 15 and 16 do not know it, and 0 is the default anyway. */
const TRANSACTION_TIMEOUT_LINE = /^SET transaction_timeout = 0;\n/gm;

export function portableDump(text: string): string {
  return text
    .replace(COLUMN_OPTIONS_LINE, (_line, head: string, list: string) => {
      const kept = list.split(',').map((option) => option.trim()).filter((option) => !PGLITE_ONLY_OPTION.test(option));
      return kept.length === 0 ? '' : `${head}${kept.join(', ')});\n`;
    })
    .replace(TRANSACTION_TIMEOUT_LINE, '');
}

/** Dumps a PGlite this process has open (and so holds the data-directory lock for). */
export async function dumpPglite(pg: PGlite): Promise<string> {
  const file = await pgDump({ pg, args: ['--no-owner', '--no-privileges'] });
  return portableDump(await file.text());
}

/** Dumps the embedded database a daemon in another process serves at host:port. */
export async function dumpOverWire(host: string, port: number): Promise<string> {
  const client = openSyncWireClient(host, port, ANSWER_TIMEOUT_MS);
  try {
    // pgDump's own before/after bookkeeping (SHOW/SET search_path, DEALLOCATE ALL) repairs a
    // session it shares with its caller; here the wire server resets the session itself when the
    // backup connection leaves, so those calls are answered without a round trip.
    const remote = {
      execProtocolRawStream(bytes: Uint8Array, options: { onRawData: (data: Uint8Array) => void }) {
        const answer = client.exchange(bytes);
        if (answer.length > 0) options.onRawData(answer);
        return Promise.resolve();
      },
      query: async () => ({ rows: [{ search_path: '"$user", public' }] }),
      exec: async () => [],
    };
    const file = await pgDump({
      pg: remote as unknown as PGlite,
      // The application name makes the daemon's wire server keep the session for pg_dump alone.
      args: ['--no-owner', '--no-privileges', '-d', `dbname=postgres application_name=${WHOLE_SESSION_APPLICATION_NAME}`],
    });
    return portableDump(await file.text());
  } finally {
    await client.close();
  }
}
