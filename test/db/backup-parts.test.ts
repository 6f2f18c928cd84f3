/**
 * The parts of `batch-router backup`/`restore` that need no daemon (the whole flow is in
 * test/cli/backup.slow.test.ts): splitting a dump into statements, making it portable to
 * PostgreSQL, and the wire server keeping the session for a backup connection and resetting it.
 */
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { portableDump } from '../../src/db/backup/pg-dump.ts';
import { sqlStatements, statementBatches } from '../../src/db/backup/sql-statements.ts';
import { WHOLE_SESSION_APPLICATION_NAME } from '../../src/db/pglite-wire-connection.ts';
import { servePglite, type WireServer } from '../../src/db/pglite-wire.ts';

describe('sqlStatements', () => {
  it('ends statements only at a semicolon outside strings, identifiers, dollar quotes and comments', () => {
    const text = [
      "INSERT INTO t VALUES (1, 'a;b', 'it''s; here');",
      'CREATE TABLE "odd;name" (x int);',
      '-- a comment; with a semicolon',
      'CREATE FUNCTION f() RETURNS int AS $body$ SELECT 1; $body$ LANGUAGE sql;',
      "DO $$ BEGIN RAISE NOTICE ';'; END $$;",
      "INSERT INTO t VALUES (2, 'line\none;\ntwo');",
      'SELECT 1',
    ].join('\n');
    expect([...sqlStatements(text)].map((s) => s.trim())).toEqual([
      "INSERT INTO t VALUES (1, 'a;b', 'it''s; here');",
      'CREATE TABLE "odd;name" (x int);',
      '-- a comment; with a semicolon\nCREATE FUNCTION f() RETURNS int AS $body$ SELECT 1; $body$ LANGUAGE sql;',
      "DO $$ BEGIN RAISE NOTICE ';'; END $$;",
      "INSERT INTO t VALUES (2, 'line\none;\ntwo');",
      'SELECT 1',
    ]);
  });

  it('batches statements without splitting one and loses no character', () => {
    const text = Array.from({ length: 50 }, (_, i) => `INSERT INTO t VALUES (${i}, '${'x'.repeat(i)};');\n`).join('');
    const batches = [...statementBatches(text, 200)];
    expect(batches.length).toBeGreaterThan(5);
    expect(batches.join('')).toBe(text.trimEnd()); // only the blank tail after the last ';' goes
  });
});

describe('portableDump', () => {
  it('drops PGlite-only column options and the setting older servers reject, nothing else', () => {
    const text = [
      'SET transaction_timeout = 0;',
      'SET lock_timeout = 0;',
      'ALTER TABLE ONLY public.br_jobs ALTER COLUMN id SET (pg_attver=24259808);',
      'ALTER TABLE ONLY public.br_job_rows_p0 ALTER COLUMN destination_id SET (pg_attver=31026979136, n_distinct=100);',
      'ALTER TABLE ONLY public.br_job_rows_p1 ALTER COLUMN destination_id SET (n_distinct=100, pg_attver=7);',
      "INSERT INTO public.t VALUES ('ALTER TABLE ONLY x ALTER COLUMN y SET (pg_attver=1);');",
      '',
    ].join('\n');
    expect(portableDump(text)).toBe([
      'SET lock_timeout = 0;',
      'ALTER TABLE ONLY public.br_job_rows_p0 ALTER COLUMN destination_id SET (n_distinct=100);',
      'ALTER TABLE ONLY public.br_job_rows_p1 ALTER COLUMN destination_id SET (n_distinct=100);',
      "INSERT INTO public.t VALUES ('ALTER TABLE ONLY x ALTER COLUMN y SET (pg_attver=1);');",
      '',
    ].join('\n'));
  });
});

describe('a backup connection to the wire server', () => {
  let pglite: PGlite;
  let server: WireServer;
  const connect = async (applicationName?: string) => {
    const client = new pg.Client({ host: server.host, port: server.port, user: 'postgres', database: 'postgres', ...(applicationName ? { application_name: applicationName } : {}) });
    await client.connect();
    return client;
  };

  beforeAll(async () => {
    pglite = await PGlite.create();
    server = await servePglite(pglite, { idleOwnerTimeoutMs: 60_000 });
  });
  afterAll(async () => {
    await server.close();
    await pglite.close();
  });

  it('keeps the session between its statements and resets what it set when it leaves', async () => {
    const other = await connect();
    const pathBefore = (await other.query<{ search_path: string }>('SHOW search_path')).rows[0]!.search_path;
    const backup = await connect(WHOLE_SESSION_APPLICATION_NAME);
    await backup.query("SELECT pg_catalog.set_config('search_path', '', false)");
    // Asked while the backup holds the session: answered only after it left, and never under its settings.
    const seen = other.query<{ search_path: string }>('SHOW search_path');
    const order: string[] = [];
    void seen.then(() => order.push('other'));
    await backup.query('PREPARE dump_query AS SELECT 1');
    expect((await backup.query<{ search_path: string }>('SHOW search_path')).rows[0]!.search_path).toBe('');
    order.push('backup');
    await backup.end();
    expect((await seen).rows[0]!.search_path).toBe(pathBefore);
    expect(order).toEqual(['backup', 'other']);
    // Its prepared statements are gone too, so the next backup can prepare the same names.
    const next = await connect(WHOLE_SESSION_APPLICATION_NAME);
    await next.query('PREPARE dump_query AS SELECT 1');
    await next.end();
    await other.end();
  });
});
