/**
 * Embedded mode (no DATABASE_URL): the daemon serves PGlite and advertises it in embedded.json,
 * clients in this or other processes use it, and nobody opens the PGlite files twice. One data
 * directory is shared by the tests because creating a PGlite cluster takes seconds.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type DatabaseHandle } from '../../src/db/connect.ts';
import { acquireDataDirLock } from '../../src/db/data-dir-lock.ts';
import { recordPath, type EmbeddedRecord } from '../../src/db/embedded.ts';
import { EMBEDDED_SHARED_BUFFERS } from '../../src/db/pglite-open.ts';
import { waitFor } from '../helpers/wait-for.ts';

let dataDir: string;
const lockPath = () => join(dataDir, 'pglite.lock');
const readJson = async (): Promise<EmbeddedRecord> => JSON.parse(await readFile(recordPath(dataDir), 'utf8')) as EmbeddedRecord;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'br-embedded-'));
});

afterAll(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

async function counter(handle: DatabaseHandle): Promise<number> {
  return (await sql<{ n: number }>`SELECT n FROM counters WHERE id = 1`.execute(handle.db)).rows[0]!.n;
}

async function increment(handle: DatabaseHandle): Promise<void> {
  await handle.db.transaction().execute(async (trx) => {
    const { rows } = await sql<{ n: number }>`SELECT n FROM counters WHERE id = 1 FOR UPDATE`.execute(trx);
    await sql`UPDATE counters SET n = ${rows[0]!.n + 1} WHERE id = 1`.execute(trx);
  });
}

describe('embedded database', () => {
  it('lets a client use the daemon’s database, refuses a second daemon and cleans up on close', async () => {
    const daemon = await openDatabase({ dataDir, role: 'daemon', poolSize: 4 });
    try {
      expect(daemon.embedded).toBe(true);
      // PGlite's default pool (128MB) is resident once used; see EMBEDDED_SHARED_BUFFERS.
      const pool = await sql<{ shared_buffers: string }>`SHOW shared_buffers`.execute(daemon.db);
      expect(pool.rows[0]!.shared_buffers).toBe(EMBEDDED_SHARED_BUFFERS);
      const record = await readJson();
      expect(record).toMatchObject({ host: '127.0.0.1', pid: process.pid, port: expect.any(Number) });
      expect(new Date(record.startedAt).getTime()).not.toBeNaN();
      await sql`CREATE TABLE notes (body text NOT NULL)`.execute(daemon.db);
      await sql`INSERT INTO notes VALUES ('from the daemon')`.execute(daemon.db);

      const client = await openDatabase({ dataDir, role: 'client', poolSize: 2 });
      try {
        expect(client.displayUrl).toContain(`127.0.0.1:${record.port}/`);
        expect((await sql<{ body: string }>`SELECT body FROM notes`.execute(client.db)).rows).toEqual([{ body: 'from the daemon' }]);
        await sql`INSERT INTO notes VALUES ('from a client')`.execute(client.db);
      } finally {
        await client.close();
      }
      expect((await sql`SELECT body FROM notes`.execute(daemon.db)).rows).toHaveLength(2);

      await expect(openDatabase({ dataDir, role: 'daemon' })).rejects.toThrow(
        `another batch-router daemon (pid ${process.pid}) is already serving ${dataDir}; stop it or set BATCH_ROUTER_DATA_DIR`,
      );
      expect((await readJson()).port).toBe(record.port); // the refused attempt left the record alone
    } finally {
      await daemon.close();
    }
    expect(existsSync(recordPath(dataDir))).toBe(false);
    expect(existsSync(lockPath())).toBe(false);
  });

  it('replaces a record and a lock left by a daemon that died', async () => {
    const dead = spawn(process.execPath, ['-e', '']);
    await new Promise((resolve) => dead.on('exit', resolve));
    const deadPid = dead.pid!;
    await writeFile(recordPath(dataDir), JSON.stringify({ host: '127.0.0.1', port: 1, pid: deadPid, startedAt: new Date(0).toISOString() }));
    await writeFile(lockPath(), JSON.stringify({ pid: deadPid }));

    const daemon = await openDatabase({ dataDir, role: 'daemon' });
    try {
      const record = await readJson();
      expect(record.pid).toBe(process.pid);
      expect(record.port).not.toBe(1);
      expect((await sql`SELECT body FROM notes`.execute(daemon.db)).rows).toHaveLength(2); // data survived
    } finally {
      await daemon.close();
    }
    expect(existsSync(recordPath(dataDir))).toBe(false);
  });

  it('opens the files in-process for a client when no daemon runs, without advertising it', async () => {
    const client = await openDatabase({ dataDir, role: 'client' });
    try {
      expect(client.embedded).toBe(true);
      expect(existsSync(recordPath(dataDir))).toBe(false);
      expect(existsSync(lockPath())).toBe(true);
      await sql`CREATE TABLE counters (id int PRIMARY KEY, n int NOT NULL)`.execute(client.db);
      await sql`INSERT INTO counters VALUES (1, 0)`.execute(client.db);
    } finally {
      await client.close();
    }
    expect(existsSync(lockPath())).toBe(false);
  });

  it('lets only one process at a time hold the PGlite files', async () => {
    const held = await acquireDataDirLock(dataDir, { busyTimeoutMs: 0 });
    try {
      await expect(acquireDataDirLock(dataDir, { busyTimeoutMs: 50, retryMs: 10 })).rejects.toThrow(
        `${dataDir} is in use by another batch-router process (this process); try again once it has finished`,
      );
    } finally {
      if (held.kind === 'locked') await held.release();
    }
    const again = await acquireDataDirLock(dataDir, { busyTimeoutMs: 0 });
    expect(again.kind).toBe('locked');
    if (again.kind === 'locked') await again.release();
  });

  it('runs concurrent transactions from several pool clients one after another', async () => {
    const daemon = await openDatabase({ dataDir, role: 'daemon', poolSize: 4 });
    try {
      const before = await counter(daemon);
      await Promise.all(Array.from({ length: 40 }, () => increment(daemon)));
      expect(await counter(daemon)).toBe(before + 40);
    } finally {
      await daemon.close();
    }
  });

  it('shares the database between a daemon in a child process and a client here', async () => {
    const script = fileURLToPath(new URL('./fixtures/embedded-daemon.ts', import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx', script, dataDir], { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    try {
      await waitFor(() => output.includes('ready'), { timeoutMs: 30_000, message: 'the child daemon to start' }).catch((error: Error) => {
        throw new Error(`${error.message}\nchild output:\n${output}`);
      });
      const record = await readJson();
      expect(record.pid).toBe(child.pid);

      const client = await openDatabase({ dataDir, role: 'client', poolSize: 2 });
      try {
        expect(client.displayUrl).toContain(`:${record.port}/`);
        const before = await counter(client);
        child.stdin.write('go 30\n');
        await Promise.all(Array.from({ length: 30 }, () => increment(client)));
        await waitFor(() => output.includes('done') || output.includes('failed'), { message: 'the child’s increments' });
        expect(output).not.toContain('failed');
        expect(await counter(client)).toBe(before + 60);
      } finally {
        await client.close();
      }
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(existsSync(recordPath(dataDir))).toBe(false);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
