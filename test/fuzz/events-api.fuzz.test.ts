/**
 * The events API (Fastify on a real PostgreSQL database) fed random and hostile requests: random
 * JSON bodies, events salted with NUL, lone surrogates, prototype keys, SQL metacharacters, huge
 * strings and deep nesting, raw bytes that are not UTF-8, and the same in ids and filters. Every
 * answer must be a 2xx, or a 4xx in the documented error shape `{error, message, requestId}`;
 * never a 5xx, and never a hang (each request has a deadline).
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scriptedManager } from '../helpers/scripted-manager.ts';
import { startHarness, type ApiHarness } from '../api/harness.ts';
import { deeplyNested, nastyEvent, nastyJson, nastyString } from './arbitraries.ts';

const REQUEST_DEADLINE_MS = 20_000;
/** Bounded in time as well as count, so a busy machine runs fewer cases rather than overrunning the file's budget. */
const runs = (numRuns: number) => ({ numRuns, interruptAfterTimeLimit: 12_000 });

/** Bytes that are not valid UTF-8: a lone continuation byte, an overlong NUL, a truncated sequence, a UTF-16 surrogate. */
const invalidUtf8 = fc.constantFrom([0xff], [0xfe, 0xff], [0xc0, 0x80], [0xe2, 0x82], [0xed, 0xa0, 0x80], [0x80]);

/** Percent-encodes every byte, so lone surrogates and raw invalid bytes reach the server as such. */
const pct = (bytes: Uint8Array | readonly number[]) => [...bytes].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('');
const urlPart = fc.oneof(nastyString.map((s) => pct(Buffer.from(s.slice(0, 2000), 'utf8'))), invalidUtf8.map(pct));

describe('fuzz: the events API answers hostile requests with a 2xx or a documented 4xx', () => {
  let h: ApiHarness;
  beforeAll(async () => {
    h = await startHarness({ destinations: [{ id: 'parked', manager: scriptedManager().manager, routed: false }] });
  });
  afterAll(async () => h?.close());

  async function send(method: string, path: string, body?: string | Uint8Array, contentType = 'application/json') {
    const res = await fetch(`${h.url}${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': contentType },
      body: body as BodyInit | undefined,
      redirect: 'manual',
      signal: AbortSignal.timeout(REQUEST_DEADLINE_MS),
    });
    const text = await res.text();
    const where = `${method} ${path.slice(0, 200)} → ${res.status} ${text.slice(0, 300)}`;
    expect(res.status, where).toBeLessThan(500);
    if (res.status >= 400) {
      expect(JSON.parse(text), where).toMatchObject({ error: expect.any(String), message: expect.any(String), requestId: expect.any(String) });
    }
    return res.status;
  }

  it('POST events: random JSON documents and events salted with hostile values', async () => {
    await fc.assert(fc.asyncProperty(
      fc.oneof(
        nastyJson.map((doc) => JSON.stringify(doc) ?? 'null'),
        fc.array(nastyEvent, { minLength: 1, maxLength: 5 }).map((events) => JSON.stringify({ events })),
        fc.tuple(nastyEvent, nastyJson).map(([event, callback]) => JSON.stringify({ events: [event], callback })),
        deeplyNested.map((value) => JSON.stringify({ events: [{ value }] })),
      ),
      async (body) => {
        await send('POST', '/v1/destinations/parked/events', body);
      },
    ), runs(120));
  }, 60_000);

  it('POST events: bytes that are not UTF-8, truncated JSON and wrong content types', async () => {
    await fc.assert(fc.asyncProperty(
      invalidUtf8,
      fc.nat({ max: 40 }),
      fc.constantFrom('application/json', 'text/plain', 'application/x-www-form-urlencoded', 'application/json; charset=latin1', ''),
      async (bad, cut, contentType) => {
        const valid = Buffer.from('{"events":[{"id":"e-1","name":"x"}]}');
        const body = Buffer.concat([valid.subarray(0, 25), Buffer.from(bad), valid.subarray(25)]);
        await send('POST', '/v1/destinations/parked/events', body, contentType);
        await send('POST', '/v1/destinations/parked/events', valid.subarray(0, cut).toString('utf8'), contentType);
      },
    ), runs(60));
  }, 60_000);

  it('ids and filters with NUL, invalid UTF-8 and SQL metacharacters', async () => {
    await fc.assert(fc.asyncProperty(urlPart, async (part) => {
      await send('GET', `/v1/jobs/${part}`);
      await send('GET', `/v1/submissions/${part}`);
      await send('GET', `/v1/destinations/${part}`);
      await send('POST', `/v1/destinations/${part}/events`, '{"events":[{"a":1}]}');
      for (const filter of ['destinationId', 'state', 'submissionId', 'createdAfter', 'updatedBefore', 'cursor', 'limit']) {
        await send('GET', `/v1/jobs?${filter}=${part}`);
      }
      await send('POST', '/v1/destinations/parked/retry', JSON.stringify({ reasonContains: decodeURIComponentSafe(part) }));
    }), runs(60));
  }, 60_000);
});

function decodeURIComponentSafe(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}
