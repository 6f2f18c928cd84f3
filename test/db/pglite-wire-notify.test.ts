/**
 * LISTEN/NOTIFY through the PGlite wire server: every client shares one PGlite session, so the
 * server must deliver a notification to the clients that LISTEN, and not to the one that sent it.
 */
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { listenChanges } from '../../src/db/pglite-wire-notify.ts';
import { servePglite, type WireServer } from '../../src/db/pglite-wire.ts';
import { waitFor } from '../helpers/wait-for.ts';

let pglite: PGlite;
let server: WireServer;
const clients: pg.Client[] = [];

beforeAll(async () => {
  pglite = await PGlite.create();
  server = await servePglite(pglite);
});

afterAll(async () => {
  await server.close();
  await pglite.close();
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.end().catch(() => undefined)));
});

/** A connected client and every notification it receives. */
async function connect(): Promise<{ client: pg.Client; heard: pg.Notification[] }> {
  const client = new pg.Client({ host: server.host, port: server.port, user: 'postgres', database: 'postgres' });
  const heard: pg.Notification[] = [];
  client.on('notification', (n) => heard.push(n));
  await client.connect();
  clients.push(client);
  return { client, heard };
}

describe('PGlite wire server notifications', () => {
  it('delivers a NOTIFY to the listening client and not to the notifier', async () => {
    const listener = await connect();
    const notifier = await connect();
    await listener.client.query('LISTEN jobs_arrived');
    await notifier.client.query(`SELECT pg_notify('jobs_arrived', 'dest-1')`);
    await notifier.client.query(`NOTIFY jobs_arrived, 'dest-2'`);
    await waitFor(() => listener.heard.length === 2, { message: 'both notifications at the listener' });
    expect(listener.heard.map((n) => [n.channel, n.payload])).toEqual([['jobs_arrived', 'dest-1'], ['jobs_arrived', 'dest-2']]);
    // A query after the NOTIFYs: a stray notification would have arrived before its answer.
    await notifier.client.query('SELECT 1');
    expect(notifier.heard).toEqual([]);
  });

  it('delivers to every listener of the channel, the notifier too when it listens, and to no one else', async () => {
    const a = await connect();
    const b = await connect();
    const other = await connect();
    await a.client.query('LISTEN "Mixed Case"');
    await b.client.query('LISTEN "Mixed Case"');
    await other.client.query('LISTEN unrelated');
    await a.client.query(`NOTIFY "Mixed Case", 'hello'`);
    await waitFor(() => a.heard.length === 1 && b.heard.length === 1, { message: 'both listeners hear it' });
    await other.client.query('SELECT 1');
    expect(other.heard).toEqual([]);
  });

  it('keeps a channel for the other listeners when one client UNLISTENs, and stops delivering to that client', async () => {
    const stays = await connect();
    const leaves = await connect();
    const notifier = await connect();
    await stays.client.query('LISTEN shared_channel');
    await leaves.client.query('LISTEN shared_channel');
    await leaves.client.query('UNLISTEN shared_channel');
    await notifier.client.query(`NOTIFY shared_channel, 'after'`);
    await waitFor(() => stays.heard.length === 1, { message: 'the remaining listener hears it' });
    await leaves.client.query('SELECT 1');
    expect(leaves.heard).toEqual([]);
  });

  it('applies a LISTEN only when its transaction commits, as PostgreSQL does', async () => {
    const rolledBack = await connect();
    const committed = await connect();
    const notifier = await connect();
    await rolledBack.client.query('BEGIN');
    await rolledBack.client.query('LISTEN tx_channel');
    await rolledBack.client.query('ROLLBACK');
    await committed.client.query('BEGIN; LISTEN tx_channel; COMMIT');
    await notifier.client.query(`NOTIFY tx_channel, 'x'`);
    await waitFor(() => committed.heard.length === 1, { message: 'the committed listener hears it' });
    await rolledBack.client.query('SELECT 1');
    expect(rolledBack.heard).toEqual([]);
  });

  it('stops delivering to a client that disconnected', async () => {
    const gone = await connect();
    await gone.client.query('LISTEN leaving');
    await gone.client.end();
    await waitFor(() => server.stats().connections === 0, { message: 'the connection to close' });
    const notifier = await connect();
    await notifier.client.query(`NOTIFY leaving, 'anyone?'`);
    await notifier.client.query('SELECT 1');
    expect(notifier.heard).toEqual([]);
  });
});

describe('listenChanges', () => {
  it('reads LISTEN and UNLISTEN statements as PostgreSQL names their channels', () => {
    expect(listenChanges('LISTEN Foo; /* c */ unlisten "Bar""s"; -- x\nUNLISTEN *')).toEqual([
      { listen: true, channel: 'foo' },
      { listen: false, channel: 'Bar"s' },
      { listen: false, channel: '*' },
    ]);
    expect(listenChanges(`SELECT 'LISTEN x'`)).toEqual([]);
  });
});
