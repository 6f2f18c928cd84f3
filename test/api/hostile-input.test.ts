/**
 * Bad input from a careless or hostile client (issue 12, section 1): every request here used to
 * reach a 500, a stack overflow or a framework-shaped error. Each must now be a 4xx in the API's
 * error shape `{error, message, field?, requestId}` naming the field.
 */
import { connect } from 'node:net';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeCursor } from '../../src/api/routes/jobs.ts';
import { scriptedManager } from '../helpers/scripted-manager.ts';
import { startHarness, submit, type ApiHarness, type Response } from './harness.ts';

const ABOVE_BIGINT = '9999999999999999999';

function expectError(res: Response, status: number, field?: string): void {
  expect(res.status, res.text).toBe(status);
  expect(res.body).toMatchObject({ error: expect.any(String), message: expect.any(String), requestId: expect.any(String) });
  if (field !== undefined) {
    expect(res.body.field).toBe(field);
    expect(res.body.message).toContain(field);
  }
}

/** Sends raw bytes on a fresh socket and returns everything the server wrote before closing. */
function rawExchange(url: string, bytes: string, deadlineMs = 10_000): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    let received = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no close within ${deadlineMs} ms; got: ${received.slice(0, 300)}`));
    }, deadlineMs);
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (received += chunk));
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(received);
    });
    socket.write(bytes);
  });
}

/** JSON bodies of every response in a raw HTTP/1.1 exchange. */
function jsonBodies(raw: string): any[] {
  return [...raw.matchAll(/\r\n\r\n(\{[^\r\n]*?\})(?=HTTP\/1\.1|$)/g)].map((m) => JSON.parse(m[1]!));
}

describe('hostile and careless input', () => {
  let h: ApiHarness;
  let jobId: string;
  beforeAll(async () => {
    h = await startHarness({ destinations: [{ id: 'parked', manager: scriptedManager().manager, routed: false }] });
    const res = await submit(h, 'parked', 1);
    jobId = res.body.jobIds[0];
  });
  afterAll(async () => h?.close());

  describe('NUL characters', () => {
    it.each([
      ['GET', '/v1/submissions/%00', 'id'],
      ['GET', '/v1/submissions/sub_x%00y/events', 'id'],
      ['DELETE', '/v1/submissions/%00', 'id'],
      ['GET', '/v1/jobs?destinationId=%00', 'destinationId'],
      ['GET', '/v1/jobs?submissionId=a%00b', 'submissionId'],
      ['GET', '/v1/jobs?state=waiting%00', 'state'],
      ['GET', '/v1/destinations/%00', 'id'],
    ])('%s %s → 400 naming %s', async (method, path, field) => {
      expectError(await h.call(method, path), 400, field);
    });

    it('in a retry reasonContains or a callback URL → 400 naming the field', async () => {
      expectError(await h.call('POST', '/v1/destinations/parked/retry', { body: { reasonContains: 'x\u0000' } }), 400, 'reasonContains');
      const res = await h.call('POST', '/v1/destinations/parked/events', { body: { events: [{ a: 1 }], callback: { url: 'http://127.0.0.1:9/\u0000' } } });
      expectError(res, 400, 'callback.url');
    });

    it('in an Idempotency-Key → 400 naming the header (Node refuses the raw byte before we see it)', async () => {
      const raw = await rawExchange(h.url, 'POST /v1/destinations/parked/events HTTP/1.1\r\nHost: 127.0.0.1\r\nIdempotency-Key: a\u0000b\r\n'
        + 'Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}');
      expect(raw).toMatch(/^HTTP\/1\.1 400/);
      expect(jsonBodies(raw)[0]).toMatchObject({ error: 'invalid_http', requestId: expect.any(String) });
      const res = await h.call('POST', '/v1/destinations/parked/events', { body: { events: [{ a: 1 }] }, headers: { 'Idempotency-Key': 'a%00b\u00e9' } });
      expectError(res, 400, 'Idempotency-Key');
    });
  });

  it('refuses an event nested 5,000 levels deep with 400 naming events[i], and keeps serving', async () => {
    const deep = `${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}`;
    const res = await h.call('POST', '/v1/destinations/parked/events', { raw: `{"events":[{"ok":1},${deep}]}`, headers: { 'Idempotency-Key': 'deep-1' } });
    expectError(res, 400, 'events[1]');
    expect(res.body.message).toMatch(/64 levels/);
    const arrays = `${'['.repeat(5000)}${']'.repeat(5000)}`;
    expectError(await h.call('POST', '/v1/destinations/parked/events', { raw: `{"events":[{"list":${arrays}}]}` }), 400, 'events[0]');
    // 64 levels (the default limit) are still fine.
    const ok = `${'{"a":'.repeat(63)}1${'}'.repeat(63)}`;
    expect((await h.call('POST', '/v1/destinations/parked/events', { raw: `{"events":[${ok}]}` })).status).toBe(202);
  });

  describe('ids above the bigint range', () => {
    it.each([
      ['GET', `/v1/jobs/${ABOVE_BIGINT}`],
      ['DELETE', `/v1/jobs/${ABOVE_BIGINT}`],
      ['POST', `/v1/jobs/${ABOVE_BIGINT}/retry`],
      ['GET', `/v1/uploads/${ABOVE_BIGINT}`],
      ['GET', `/v1/uploads/${ABOVE_BIGINT}/events`],
    ])('%s %s → 404', async (method, path) => {
      const res = await h.call(method, path);
      expectError(res, 404);
      expect(res.body.error).toBe('not_found');
    });

    it('a cursor that decodes to one → 400 naming cursor', async () => {
      expectError(await h.call('GET', `/v1/jobs?cursor=${encodeCursor(ABOVE_BIGINT)}`), 400, 'cursor');
    });
  });

  it.each([
    ['createdAfter', '2016-12-31T23:59:60Z'],
    ['updatedBefore', '2026-01-01T00:00:00+01'],
    ['createdBefore', '2026-02-30T00:00:00Z'],
    ['updatedAfter', '2026-01-01T00:00:00'],
  ])('a date that matches the format but not the calendar: %s=%s → 400 naming it', async (field, value) => {
    const res = await h.call('GET', `/v1/jobs?${field}=${encodeURIComponent(value)}`);
    expectError(res, 400, field);
    expect(res.body.message).toMatch(/RFC 3339/);
  });

  it('finishedAfter/finishedBefore in a retry body are checked the same way', async () => {
    expectError(await h.call('POST', '/v1/destinations/parked/retry', { body: { finishedAfter: '2016-12-31T23:59:60Z' } }), 400, 'finishedAfter');
    expectError(await h.call('POST', '/v1/destinations/parked/retry', { body: { finishedBefore: '2025-02-29T10:00:00Z' } }), 400, 'finishedBefore');
    expect((await h.call('POST', '/v1/destinations/parked/retry', { body: { finishedAfter: '2024-02-29T10:00:00+05:30' } })).status).toBe(200);
  });

  it('DELETE and retry with content-type: application/json and an empty body succeed', async () => {
    const json = { 'content-type': 'application/json' };
    await sql`UPDATE br_jobs SET state = 'aborted', reason = 'test', finished_at = now() WHERE id = ${jobId}`.execute(h.db.db);
    const retried = await h.call('POST', `/v1/jobs/${jobId}/retry`, { raw: '', headers: json });
    expect(retried.status, retried.text).toBe(200);
    expect(retried.body.state).toBe('waiting');
    const cancelled = await h.call('DELETE', `/v1/jobs/${jobId}`, { raw: '', headers: json });
    expect(cancelled.status, cancelled.text).toBe(200);
    expect(cancelled.body.state).toBe('cancelled');
    expect((await h.call('POST', '/v1/destinations/parked/retry', { raw: '', headers: json })).status).toBe(200);
    // A route that needs a body still says so.
    expectError(await h.call('POST', '/v1/destinations/parked/events', { raw: '', headers: json }), 400, 'body');
  });

  describe('framework errors use the API shape and never echo the URL', () => {
    it('a path parameter over the length limit → 414', async () => {
      const long = 'x'.repeat(5000);
      const res = await h.call('GET', `/v1/submissions/${long}`);
      expectError(res, 414);
      expect(res.text).not.toContain('x'.repeat(200));
    });

    it('bad percent-encoding → 400', async () => {
      const res = await h.call('GET', '/v1/submissions/%zz-secret-looking-path');
      expectError(res, 400);
      expect(res.text).not.toContain('secret-looking');
    });

    it('a request line and headers over the parser limit → 431 in the API shape', async () => {
      const raw = await rawExchange(h.url, `GET /v1/jobs?destinationId=${'y'.repeat(40_000)} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
      expect(raw).toMatch(/^HTTP\/1\.1 431/);
      expect(jsonBodies(raw)[0]).toMatchObject({ error: 'headers_too_large', requestId: expect.any(String) });
      expect(raw).not.toContain('yyyy');
    });

    it('a Content-Length shorter than the body → 4xx answers in the API shape, then the connection closes', async () => {
      const body = '{"events":[{"a":1}]}';
      const raw = await rawExchange(h.url, `POST /v1/destinations/parked/events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 5\r\n\r\n${body}`);
      const statuses = [...raw.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => Number(m[1]));
      expect(statuses.length).toBeGreaterThan(0);
      expect(statuses.every((s) => s >= 400 && s < 500)).toBe(true);
      const bodies = jsonBodies(raw);
      expect(bodies).toHaveLength(statuses.length);
      for (const b of bodies) expect(b).toMatchObject({ error: expect.any(String), message: expect.any(String), requestId: expect.any(String) });
    });

    it('a __proto__ key is refused with a message that says so', async () => {
      const res = await h.call('POST', '/v1/destinations/parked/events', { raw: '{"events":[{"__proto__":{"admin":true}}]}' });
      expectError(res, 400, 'body');
      expect(res.body.error).toBe('invalid_json');
      expect(res.body.message).toContain('"__proto__"');
    });
  });

  it('the Idempotency-Key fingerprint ignores key order inside events', async () => {
    const headers = { 'Idempotency-Key': 'order-1' };
    const first = await h.call('POST', '/v1/destinations/parked/events', { raw: '{"events":[{"a":1,"b":{"x":1,"y":2}}]}', headers });
    expect(first.status).toBe(202);
    const again = await h.call('POST', '/v1/destinations/parked/events', { raw: '{"events":[{"b":{"y":2,"x":1},"a":1}]}', headers });
    expect(again.status, again.text).toBe(200);
    expect(again.body.submissionId).toBe(first.body.submissionId);
    const other = await h.call('POST', '/v1/destinations/parked/events', { raw: '{"events":[{"b":{"y":2,"x":1},"a":2}]}', headers });
    expectError(other, 422, 'Idempotency-Key');
  });
});
