/**
 * Bounded resources (issue 12, section 2), over real sockets: slow clients are cut off by the
 * request deadlines, a 401 closes its connection, SSE streams and Prefer: wait holds are limited
 * per key and per process, all streams of one submission share one reader, and callback URLs are
 * shown in full only to the key that set them.
 */
import { connect, type Socket } from 'node:net';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scriptedManager } from '../helpers/scripted-manager.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { startHarness, submit, type ApiHarness } from './harness.ts';
import { openSse, type SseConnection } from './sse-client.ts';

interface Trickler {
  socket: Socket;
  received: () => string;
  closed: Promise<number>;
}

/** Opens a socket, sends `head`, then `chunk` every `everyMs` until the server closes it. */
function trickle(url: string, head: string, chunk: string, everyMs: number): Trickler {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  let received = '';
  const started = Date.now();
  socket.setEncoding('utf8');
  socket.on('data', (data: string) => (received += data));
  socket.on('error', () => {});
  socket.write(head);
  const timer = setInterval(() => socket.writable && socket.write(chunk), everyMs);
  const closed = new Promise<number>((resolve) => socket.on('close', () => {
    clearInterval(timer);
    resolve(Date.now() - started);
  }));
  return { socket, received: () => received, closed };
}

/** Resolves with the elapsed ms when every trickler was closed by the server, or fails after `deadlineMs`. */
async function allClosedWithin(tricklers: Trickler[], deadlineMs: number): Promise<number[]> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`connections still open after ${deadlineMs} ms`)), deadlineMs)));
  try {
    return await Promise.race([Promise.all(tricklers.map((t) => t.closed)), deadline]);
  } finally {
    clearTimeout(timer);
    for (const t of tricklers) t.socket.destroy();
  }
}

describe('slow clients and held connections', () => {
  let h: ApiHarness;
  const streams: SseConnection[] = [];
  beforeAll(async () => {
    h = await startHarness({
      destinations: [{ id: 'parked', manager: scriptedManager().manager, routed: false }],
      keys: {
        owner: { scopes: ['events:write', 'jobs:read', 'admin'] },
        other: { scopes: ['events:write', 'jobs:read'] },
        third: { scopes: ['events:write', 'jobs:read'] },
      },
      env: {
        BATCH_ROUTER_API_HEADERS_TIMEOUT_MS: '1000',
        BATCH_ROUTER_API_REQUEST_TIMEOUT_MS: '1500',
        BATCH_ROUTER_API_KEEP_ALIVE_TIMEOUT_MS: '300',
        BATCH_ROUTER_API_MAX_STREAMS_PER_KEY: '3',
        BATCH_ROUTER_API_MAX_STREAMS: '5',
      },
    });
  });
  afterAll(async () => {
    for (const s of streams) s.close();
    await h?.close();
  });

  const post = (key?: string) => `POST /v1/destinations/parked/events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n`
    + `${key ? `Authorization: Bearer ${key}\r\n` : ''}Content-Length: 100000\r\n\r\n{"events":[`;

  it('closes trickling connections without a key right after the 401', async () => {
    const tricklers = Array.from({ length: 20 }, () => trickle(h.url, post(), '{},', 200));
    const elapsed = await allClosedWithin(tricklers, 20_000);
    for (const t of tricklers) expect(t.received()).toMatch(/^HTTP\/1\.1 401/);
    expect(Math.max(...elapsed)).toBeLessThan(20_000);
  });

  it('answers 413 to a body over the limit, even with a valid key, and closes that connection', async () => {
    const head = post(h.keys.owner).replace('Content-Length: 100000', 'Content-Length: 20971520'); // 20 MiB > the 10 MiB default
    const tricklers = Array.from({ length: 5 }, () => trickle(h.url, head, '{},', 200));
    await allClosedWithin(tricklers, 20_000);
    for (const t of tricklers) {
      expect(t.received()).toMatch(/^HTTP\/1\.1 413/);
      // Closed by the 413 itself, not by the request timeout later on.
      expect(t.received()).toMatch(/\r\nconnection: close\r\n/i);
      expect(t.received()).toMatch(/"error":"payload_too_large".*"requestId":/);
    }
  });

  it('answers 408 in the API shape and closes a body trickled past the request timeout, even with a valid key', async () => {
    const tricklers = Array.from({ length: 10 }, () => trickle(h.url, post(h.keys.owner), '{},', 200));
    const elapsed = await allClosedWithin(tricklers, 20_000);
    for (const t of tricklers) {
      expect(t.received()).toMatch(/^HTTP\/1\.1 408/);
      expect(t.received()).toMatch(/"error":"request_timeout".*"requestId":"conn-/);
    }
    // Not before the deadline: the timeout, not an error, ended them.
    expect(Math.min(...elapsed)).toBeGreaterThanOrEqual(1000);
  });

  it('closes a connection whose headers never finish, and an idle keep-alive connection', async () => {
    const headers = trickle(h.url, 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n', 'X-Slow: 1\r\n', 200);
    const idle = trickle(h.url, 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n', '', 60_000);
    await allClosedWithin([headers, idle], 20_000);
    expect(headers.received()).toMatch(/^HTTP\/1\.1 408/);
    expect(idle.received()).toMatch(/^HTTP\/1\.1 200/);
  });

  it('limits SSE streams per key and per process with a 429, and frees the slot when a stream ends', async () => {
    const accepted = await submit(h, 'parked', 1, { key: h.keys.owner });
    const url = `${h.url}/v1/submissions/${accepted.body.submissionId}/events`;
    const open = async (key: string) => {
      const s = await openSse(url, { authorization: `Bearer ${key}` });
      streams.push(s);
      return s;
    };
    for (let i = 0; i < 3; i++) {
      const s = await open(h.keys.owner!);
      expect(s.status).toBe(200);
      expect(await s.next()).toMatchObject({ event: 'progress' });
    }
    const overKey = await h.call('GET', `/v1/submissions/${accepted.body.submissionId}/events`, { key: h.keys.owner });
    expect(overKey.status).toBe(429);
    expect(overKey.body).toMatchObject({ error: 'too_many_streams', requestId: expect.any(String) });
    expect(overKey.body.message).toMatch(/per key/);
    expect(overKey.headers.get('retry-after')).toBeTruthy();

    // A Prefer: wait over the key's limit is refused before anything is written.
    const before = await sql<{ n: string }>`SELECT count(*) AS n FROM br_jobs`.execute(h.db.db);
    const waited = await submit(h, 'parked', 1, { key: h.keys.owner, headers: { Prefer: 'wait=5' } });
    expect(waited.status).toBe(429);
    const after = await sql<{ n: string }>`SELECT count(*) AS n FROM br_jobs`.execute(h.db.db);
    expect(after.rows[0]!.n).toBe(before.rows[0]!.n);

    for (let i = 0; i < 2; i++) expect((await open(h.keys.other!)).status).toBe(200);
    const overProcess = await h.call('GET', `/v1/submissions/${accepted.body.submissionId}/events`, { key: h.keys.third });
    expect(overProcess.status).toBe(429);
    expect(overProcess.body.message).toMatch(/BATCH_ROUTER_API_MAX_STREAMS\b/);

    // All five streams of this submission are served by one reader.
    const metrics = await h.call('GET', '/metrics', { key: h.keys.owner });
    expect(metrics.text).toMatch(/^batch_router_api_followed_resources 1$/m);
    expect(metrics.text).toMatch(/^batch_router_api_held_connections 5$/m);

    streams.shift()!.close();
    await waitFor(async () => {
      const again = await openSse(url, { authorization: `Bearer ${h.keys.owner}` });
      streams.push(again);
      return again.status === 200;
    }, { message: 'the closed stream freed its slot' });
    for (const s of streams.splice(0)) s.close();
  });

  it('serves many streams of one submission from one shared reader: reads do not grow with subscribers', async () => {
    const accepted = await submit(h, 'parked', 1, { key: h.keys.third });
    const url = `${h.url}/v1/submissions/${accepted.body.submissionId}/events`;
    await waitFor(async () => (await h.call('GET', '/metrics', { key: h.keys.owner })).text.includes('batch_router_api_held_connections 0'),
      { message: 'earlier streams closed' });
    const readsNow = async () => Number(/^batch_router_api_sse_reads (\d+)$/m.exec((await h.call('GET', '/metrics', { key: h.keys.owner })).text)![1]);
    const s1 = await openSse(url, { authorization: `Bearer ${h.keys.third}` });
    const s2 = await openSse(url, { authorization: `Bearer ${h.keys.third}` });
    const s3 = await openSse(url, { authorization: `Bearer ${h.keys.third}` });
    streams.push(s1, s2, s3);
    for (const s of [s1, s2, s3]) expect(await s.next()).toMatchObject({ event: 'progress' });
    const start = Date.now();
    const r0 = await readsNow();
    await waitFor(() => Date.now() - start >= 1000, { message: 'a second passed' });
    const r1 = await readsNow();
    const polls = (Date.now() - start) / 25; // BATCH_ROUTER_SSE_POLL_MS in the harness
    // One loop reads at most once per poll interval; three loops would read three times as often.
    expect(r1 - r0).toBeLessThanOrEqual(polls + 2);
    expect(r1 - r0).toBeGreaterThan(0);
  });
});
