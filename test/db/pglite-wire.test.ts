/**
 * The PGlite wire server must keep several connections from corrupting each other's work on the
 * single PGlite session. Runs on an in-memory PGlite whatever DATABASE_URL says.
 */
import net from 'node:net';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createPool } from '../../src/db/connect.ts';
import { servePglite, type WireServer } from '../../src/db/pglite-wire.ts';
import { waitFor } from '../helpers/wait-for.ts';

let pglite: PGlite;
let server: WireServer;
let pool: pg.Pool;
const clients: pg.Client[] = [];

beforeAll(async () => {
  pglite = await PGlite.create();
  server = await servePglite(pglite, { idleOwnerTimeoutMs: 1_000 });
  pool = createPool({ host: server.host, port: server.port, user: 'postgres', database: 'postgres', max: 4 });
});

afterAll(async () => {
  await pool.end();
  await server.close();
  await pglite.close();
});

beforeEach(async () => {
  await pool.query('DROP TABLE IF EXISTS counters, queue');
  await pool.query('CREATE TABLE counters (id int PRIMARY KEY, n int NOT NULL)');
  await pool.query('INSERT INTO counters VALUES (1, 0)');
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.end().catch(() => undefined)));
});

async function connect(): Promise<pg.Client> {
  const client = new pg.Client({ host: server.host, port: server.port, user: 'postgres', database: 'postgres' });
  client.on('error', () => undefined); // terminations are asserted through the failing query
  await client.connect();
  clients.push(client);
  return client;
}

describe('PGlite wire server', () => {
  it('runs read-modify-write transactions from several pool clients without lost updates', async () => {
    const increment = async (rollback: boolean) => {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        const { rows } = await client.query<{ n: number }>('SELECT n FROM counters WHERE id = $1 FOR UPDATE', [1]);
        await client.query('UPDATE counters SET n = $1 WHERE id = $2', [rows[0]!.n + 1, 1]);
        await client.query(rollback ? 'ROLLBACK' : 'COMMIT');
      } finally {
        client.release();
      }
    };
    await Promise.all(Array.from({ length: 120 }, (_, i) => increment(i % 6 === 0)));
    const { rows } = await pool.query<{ n: number }>('SELECT n FROM counters');
    expect(rows[0]!.n).toBe(100);
  });

  it('makes other connections wait for an open transaction and never shows them its uncommitted rows', async () => {
    const a = await connect();
    const b = await connect();
    await a.query('BEGIN');
    await a.query('UPDATE counters SET n = $1 WHERE id = 1', [1]);
    const read = b.query<{ n: number }>('SELECT n FROM counters WHERE id = $1', [1]);
    await waitFor(() => server.stats().waiting === 1, { message: 'the second connection to queue' });
    await a.query('UPDATE counters SET n = $1 WHERE id = 1', [2]);
    await a.query('COMMIT');
    expect((await read).rows[0]!.n).toBe(2);
  });

  it('keeps extended-protocol batches whole when a large parameter arrives in several TCP chunks', async () => {
    // pglite-socket 0.2.17 lets a small query's Parse run between this Bind's chunks.
    const big = 'x'.repeat(4_000_000);
    const a = await connect();
    const b = await connect();
    const small = (async () => {
      for (let i = 0; i < 200; i++) expect((await b.query<{ i: number }>('SELECT $1::int AS i', [i])).rows[0]!.i).toBe(i);
    })();
    for (let i = 0; i < 4; i++) {
      const { rows } = await a.query<{ n: number; s: string }>('SELECT length($1::text) AS n, $2::text AS s', [big, `q${i}`]);
      expect(rows[0]).toEqual({ n: big.length, s: `q${i}` });
    }
    await small;
  });

  it('hands each row to exactly one of several concurrent SKIP LOCKED claimers', async () => {
    await pool.query('CREATE TABLE queue (id int PRIMARY KEY, claimed_by int)');
    await pool.query('INSERT INTO queue SELECT g, NULL FROM generate_series(1, 200) g');
    const claim = (worker: number) =>
      pool.query<{ id: number }>(
        `UPDATE queue SET claimed_by = $1 WHERE id IN (
           SELECT id FROM queue WHERE claimed_by IS NULL ORDER BY id LIMIT 7 FOR UPDATE SKIP LOCKED
         ) RETURNING id`,
        [worker],
      );
    const claimed: number[] = [];
    const worker = async (id: number) => {
      for (let r = await claim(id); r.rows.length > 0; r = await claim(id)) claimed.push(...r.rows.map((row) => row.id));
    };
    await Promise.all([1, 2, 3, 4].map(worker));
    expect(claimed.sort((x, y) => x - y)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
  });

  it('rolls back and frees the session when a client leaves inside a transaction', async () => {
    const a = await connect();
    const b = await connect();
    await a.query('BEGIN');
    await a.query('UPDATE counters SET n = 99 WHERE id = 1');
    const read = b.query<{ n: number }>('SELECT n FROM counters WHERE id = 1');
    await waitFor(() => server.stats().waiting === 1, { message: 'the second connection to queue' });
    await a.end();
    expect((await read).rows[0]!.n).toBe(0);
  });

  it('ends a half-sent extended-protocol batch of a client that disconnects', async () => {
    const b = await connect();
    const { socket, received } = await rawConnect();
    socket.write(message('P', Buffer.from('\0SELECT 1\0\0\0'))); // Parse without its Sync
    await waitFor(() => received().subarray(-5).equals(Buffer.from([0x31, 0, 0, 0, 4])), { message: 'ParseComplete' });
    const read = b.query('SELECT $1::int AS one', [1]);
    await waitFor(() => server.stats().waiting === 1, { message: 'the second connection to queue' });
    socket.destroy();
    expect((await read).rows[0]).toEqual({ one: 1 });
  });

  it('terminates a connection that idles inside a transaction while others wait', async () => {
    const a = await connect();
    const b = await connect();
    await a.query('BEGIN');
    await a.query('UPDATE counters SET n = 5 WHERE id = 1');
    expect((await b.query<{ n: number }>('SELECT n FROM counters WHERE id = 1')).rows[0]!.n).toBe(0);
    await expect(a.query('COMMIT')).rejects.toThrow();
  });
});

function message(type: string, body: Buffer): Buffer {
  const header = Buffer.alloc(5);
  header.write(type, 0);
  header.writeInt32BE(4 + body.length, 1);
  return Buffer.concat([header, body]);
}

/** A socket past the startup handshake (the first ReadyForQuery). */
async function rawConnect(): Promise<{ socket: net.Socket; received: () => Buffer }> {
  const socket = net.connect({ host: server.host, port: server.port });
  const params = Buffer.from('user\0postgres\0database\0postgres\0\0');
  const startup = Buffer.alloc(8);
  startup.writeInt32BE(8 + params.length, 0);
  startup.writeInt32BE(196608, 4);
  socket.write(Buffer.concat([startup, params]));
  let received = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => (received = Buffer.concat([received, chunk])));
  // ReadyForQuery idle is the last message of the handshake.
  await waitFor(() => received.subarray(-6).equals(Buffer.from([0x5a, 0, 0, 0, 5, 0x49])), { message: 'the handshake' });
  return { socket, received: () => received };
}
