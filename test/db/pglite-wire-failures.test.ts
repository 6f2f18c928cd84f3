/**
 * What the embedded database's wire server does with what PGlite cannot serve: COPY from any
 * client is refused with an ordinary PostgreSQL error instead of wedging the process, and a PGlite
 * that fails is never called again. Runs on an in-memory PGlite whatever DATABASE_URL says.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool } from '../../src/db/connect.ts';
import { isCopyStatement } from '../../src/db/pglite-wire-guard.ts';
import { servePglite, type WireServer } from '../../src/db/pglite-wire.ts';

const run = promisify(execFile);

/** psql, the client a user reaches for, against the wire server; resolves with its exit and output. */
async function psql(server: WireServer, args: string[], input?: string): Promise<{ code: number; out: string }> {
  const child = run('psql', ['-X', '-h', server.host, '-p', String(server.port), '-U', 'postgres', '-d', 'postgres', ...args], {
    timeout: 20_000,
    env: { ...process.env, PGCONNECT_TIMEOUT: '10' },
  });
  if (input !== undefined) child.child.stdin!.end(input);
  try {
    const { stdout, stderr } = await child;
    return { code: 0, out: stdout + stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string; killed?: boolean };
    if (failed.killed) throw new Error('psql did not finish within 20 s: the embedded server is wedged');
    return { code: failed.code ?? -1, out: `${failed.stdout ?? ''}${failed.stderr ?? ''}` };
  }
}

describe('COPY through the embedded wire server', () => {
  let pglite: PGlite;
  let server: WireServer;
  let pool: pg.Pool;
  beforeAll(async () => {
    pglite = await PGlite.create();
    server = await servePglite(pglite);
    pool = createPool({ host: server.host, port: server.port, user: 'postgres', database: 'postgres', max: 2 });
    await pool.query('CREATE TABLE items (n int)');
  });
  afterAll(async () => {
    await pool.end();
    await server.close();
    await pglite.close();
  });

  it('refuses psql \\copy with a PostgreSQL error and keeps serving everyone', async () => {
    const copied = await psql(server, ['-c', '\\copy items from stdin'], '1\n2\n\\.\n');
    expect(copied.code).not.toBe(0);
    expect(copied.out).toMatch(/COPY is not supported by the embedded database/);
    // The process is not wedged: timers run and the session serves the next client at once.
    const tick = await new Promise<number>((resolve) => setTimeout(() => resolve(Date.now()), 10));
    expect(tick).toBeGreaterThan(0);
    expect((await pool.query('SELECT count(*)::int AS n FROM items')).rows).toEqual([{ n: 0 }]);
    const out = await psql(server, ['-c', 'COPY items TO STDOUT']);
    expect(out.code).not.toBe(0);
    expect(out.out).toMatch(/COPY is not supported/);
    expect((await psql(server, ['-At', '-c', 'SELECT 41 + 1'])).out.trim()).toBe('42');
  });

  it('fails a COPY sent with the extended protocol inside a transaction as PostgreSQL would', async () => {
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await client.query('INSERT INTO items VALUES ($1)', [7]);
      await expect(client.query({ text: 'COPY items FROM STDIN', values: [] })).rejects.toMatchObject({ code: '0A000' });
      // The transaction is aborted, like any failed statement's.
      await expect(client.query('SELECT 1')).rejects.toMatchObject({ code: '25P02' });
      await client.query('ROLLBACK');
      expect((await client.query('SELECT count(*)::int AS n FROM items')).rows).toEqual([{ n: 0 }]);
    } finally {
      client.release();
    }
  });

  it('recognises COPY after comments and in multi-statement text, and nothing else', () => {
    expect(isCopyStatement('copy t from stdin')).toBe(true);
    expect(isCopyStatement('  /* load */ -- now\n COPY t TO STDOUT')).toBe(true);
    expect(isCopyStatement('BEGIN; COPY t FROM STDIN; COMMIT')).toBe(true);
    expect(isCopyStatement('SELECT copy_count FROM stats')).toBe(false);
    expect(isCopyStatement('INSERT INTO t (copy) VALUES (1)')).toBe(false);
  });
});

describe('a PGlite that fails', () => {
  it('is never called again: clients get a FATAL error naming the fix, the owner is told once', async () => {
    const pglite = await PGlite.create();
    const failures: Error[] = [];
    const server = await servePglite(pglite, { onFailure: (error) => failures.push(error) });
    const client = new pg.Client({ host: server.host, port: server.port, user: 'postgres', database: 'postgres' });
    client.on('error', () => undefined);
    await client.connect();
    expect((await client.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    // A real failure of PGlite itself: the instance is gone underneath the server.
    await pglite.close();
    await expect(client.query('SELECT 2')).rejects.toThrow();
    expect(failures).toHaveLength(1);
    expect(server.failure()).toBe(failures[0]);

    const late = new pg.Client({ host: server.host, port: server.port, user: 'postgres', database: 'postgres' });
    late.on('error', () => undefined);
    const refused = await late.connect().then(() => late.query('SELECT 3')).then(() => undefined, (error: Error) => error);
    expect(refused?.message).toMatch(/embedded database failed.*restart batch-router/);
    expect(failures).toHaveLength(1);
    await late.end().catch(() => undefined);
    await client.end().catch(() => undefined);
    await server.close(); // returns: nothing waits on the failed PGlite
  });
});
