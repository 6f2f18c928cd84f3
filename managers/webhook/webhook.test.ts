import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { JsonObject, UploadResult } from '../../src/manager/contract.ts';
import { ConfigError, PermanentError, RetryableError } from '../../src/manager/errors.ts';
import { buildBatch, callContext, tempDir } from '../../test/conformance/harness.ts';
import { runManagerConformance } from '../../test/conformance/suite.ts';
import { startHttpSink, type HttpSink } from '../../test/fakes/http-sink.ts';
import { USER_AGENT, WHOLE_BODY_MAX_BYTES, parseRetryAfter } from './client.ts';
import webhook from './index.ts';

const SECRET = 'sk_live_51c0nf0rmance';
const sampleEvents = (n: number, prefix = 'evt'): JsonObject[] =>
  Array.from({ length: n }, (_, i) => ({ id: `${prefix}-${i}`, type: 'signup', n: i, user: { email: `u${i}@example.com`, tags: ['a', 'b'] } }));

runManagerConformance({
  manager: webhook,
  async setup() {
    const sink = await startHttpSink();
    return {
      config: { url: `${sink.url}/hook`, headers: { Authorization: `Bearer ${SECRET}` } },
      cleanup: () => sink.close(),
      vendorCalls: async () => sink.stats().requests,
    };
  },
  sampleEvents,
});

describe('webhook', () => {
  let sink: HttpSink;
  let staging: Awaited<ReturnType<typeof tempDir>>;
  beforeAll(async () => {
    sink = await startHttpSink({ record: true });
    staging = await tempDir();
  });
  afterAll(async () => {
    await sink.close();
    await staging.dispose();
  });
  beforeEach(() => sink.reset());

  /** One upload through the manager, as the router would make it; `uploadId` pins retries. */
  async function send(events: JsonObject[], config: Record<string, unknown> = {}, uploadId?: string): Promise<UploadResult> {
    const parsed = webhook.configSchema.parse({ url: `${sink.url}/hook`, headers: { Authorization: `Bearer ${SECRET}`, 'X-Tenant': 'acme' }, ...config });
    const { batch } = await buildBatch(webhook, parsed, events, { stagingDir: staging.path, destinationId: 'hook-1', uploadId });
    return webhook.upload(batch, callContext(parsed, { destinationId: 'hook-1' }).ctx);
  }

  async function failure(promise: Promise<unknown>): Promise<Error> {
    const error = await promise.then(() => undefined, (thrown: unknown) => thrown as Error);
    if (!error) throw new Error('expected the upload to fail');
    return error;
  }

  it('POSTs a json batch exactly, with its headers, and reports every job succeeded', async () => {
    const result = await send([{ id: 'a', n: 1 }, { id: 'b', s: 'é "q"' }], {}, 'up-7');
    expect(result.outcomes.map((o) => o.kind)).toEqual(['succeeded', 'succeeded']);
    const [request] = sink.requests();
    expect(request?.method).toBe('POST');
    expect(request?.path).toBe('/hook');
    expect(request?.body).toBe('{"events":[{"id":"a","n":1},{"id":"b","s":"é \\"q\\""}]}');
    expect(request?.headers).toMatchObject({
      'content-type': 'application/json',
      'idempotency-key': 'hook-1:up-7',
      'user-agent': USER_AGENT,
      authorization: `Bearer ${SECRET}`,
      'x-tenant': 'acme',
    });
  });

  it('POSTs an ndjson batch exactly, one event per line', async () => {
    await send([{ id: 'a', n: 1 }, { id: 'b', nested: { x: [1, null] } }], { format: 'ndjson' });
    const [request] = sink.requests();
    expect(request?.body).toBe('{"id":"a","n":1}\n{"id":"b","nested":{"x":[1,null]}}\n');
    expect(request?.headers['content-type']).toBe('application/x-ndjson');
  });

  it('sends a small batch whole, with a Content-Length', async () => {
    const events = sampleEvents(500);
    await send(events);
    const [request] = sink.requests();
    expect(request?.body).toBe(JSON.stringify({ events }));
    expect(request?.headers['content-length']).toBe(String(Buffer.byteLength(request!.body)));
    expect(request?.headers['transfer-encoding']).toBeUndefined();
  });

  it('streams a large batch (chunked) and delivers every event once', async () => {
    const events = sampleEvents(5_000);
    expect(events.reduce((n, e) => n + JSON.stringify(e).length, 0)).toBeGreaterThan(WHOLE_BODY_MAX_BYTES);
    const result = await send(events, { format: 'ndjson' });
    expect(result.outcomes).toHaveLength(5_000);
    expect(sink.stats()).toMatchObject({ requests: 1, events: 5_000, uniqueIds: 5_000, duplicates: 0 });
    expect(sink.requests()[0]?.headers['transfer-encoding']).toBe('chunked');
  });

  it('keeps the idempotency key when an upload is retried', async () => {
    sink.script({ status: 503 });
    await expect(send(sampleEvents(3), {}, 'up-9')).rejects.toBeInstanceOf(RetryableError);
    await send(sampleEvents(3), {}, 'up-9');
    expect(sink.requests().map((r) => r.headers['idempotency-key'])).toEqual(['hook-1:up-9', 'hook-1:up-9']);
  });

  it('turns 429 with Retry-After seconds into RetryableError with retryAfterMs', async () => {
    sink.script({ status: 429, retryAfter: 7 });
    const error = await failure(send(sampleEvents(2)));
    expect(error).toBeInstanceOf(RetryableError);
    expect((error as RetryableError).retryAfterMs).toBe(7_000);
  });

  it('reads Retry-After given as an HTTP date', async () => {
    sink.script({ status: 503, retryAfter: new Date(Date.now() + 5_000).toUTCString() });
    const error = (await failure(send(sampleEvents(2)))) as RetryableError;
    expect(error.retryAfterMs).toBeGreaterThan(3_000);
    expect(error.retryAfterMs).toBeLessThanOrEqual(5_000);
    expect(parseRetryAfter('Wed, 21 Oct 2015 07:28:00 GMT', Date.parse('Wed, 21 Oct 2015 07:27:30 GMT'))).toBe(30_000);
    expect(parseRetryAfter('soon')).toBeUndefined();
    expect(parseRetryAfter(null)).toBeUndefined();
  });

  it.each([503, 500, 408, 409])('turns %i into RetryableError naming the status', async (status) => {
    sink.script({ status });
    const error = await failure(send(sampleEvents(2)));
    expect(error).toBeInstanceOf(RetryableError);
    expect(error.message).toContain(String(status));
  });

  it('turns 400 into PermanentError carrying the first 500 characters of the response', async () => {
    sink.script({ status: 400, body: 'field "email" is invalid' }, { status: 422, body: 'x'.repeat(2_000) });
    const error = await failure(send(sampleEvents(2)));
    expect(error).toBeInstanceOf(PermanentError);
    expect(error.message).toContain('400');
    expect(error.message).toContain('field "email" is invalid');
    const long = await failure(send(sampleEvents(2)));
    expect(long.message).toContain('x'.repeat(500));
    expect(long.message).not.toContain('x'.repeat(501));
  });

  it('turns a slow receiver into RetryableError after timeoutMs', async () => {
    sink.script({ delayMs: 3_000 });
    const started = Date.now();
    const error = await failure(send(sampleEvents(2), { timeoutMs: 200 }));
    expect(error).toBeInstanceOf(RetryableError);
    expect(error.message).toContain('200 ms');
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('turns a refused connection into RetryableError', async () => {
    const gone = await startHttpSink();
    await gone.close();
    const error = await failure(send(sampleEvents(2), { url: `${gone.url}/hook` }));
    expect(error).toBeInstanceOf(RetryableError);
    expect(error.message).toContain(gone.url);
  });

  it('reports a redirect as a ConfigError on "url" instead of following it', async () => {
    sink.script({ status: 308, body: '' });
    const error = await failure(send(sampleEvents(1)));
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).field).toBe('url');
  });

  it('never puts a header secret into an error message, even when the receiver echoes it', async () => {
    sink.script(
      { status: 401, body: `invalid token Bearer ${SECRET}` },
      { status: 503, body: `overloaded, try ${SECRET} later` },
      { delayMs: 2_000 },
    );
    const messages = [
      (await failure(send(sampleEvents(1)))).message,
      (await failure(send(sampleEvents(1)))).message,
      (await failure(send(sampleEvents(1), { timeoutMs: 150 }))).message,
      (await failure(send(sampleEvents(1), { url: 'http://127.0.0.1:1/hook?token=q1' }))).message,
    ];
    expect(messages[0]).toContain('[redacted]');
    for (const message of messages) {
      expect(message).not.toContain(SECRET);
      expect(message).not.toContain('token=q1');
    }
    const badHeader = () => webhook.configSchema.parse({ url: sink.url, headers: { Authorization: `Bearer ${SECRET}\r\nX: y` } });
    expect(badHeader).toThrow(ConfigError);
    expect(badHeader).not.toThrow(SECRET);
  });

  it('validates its config: exact url kept, credentials and managed headers refused', () => {
    expect(webhook.configSchema.parse({ url: 'https://example.com/hook/' })).toEqual({
      url: 'https://example.com/hook/',
      headers: {},
      format: 'json',
      timeoutMs: 30_000,
    });
    expect(() => webhook.configSchema.parse({ url: 'https://u:p@example.com/' })).toThrow(/headers/);
    expect(() => webhook.configSchema.parse({ url: 'https://example.com', headers: { 'Content-Type': 'text/plain' } })).toThrow(/Content-Type/);
    expect(() => webhook.configSchema.parse({ url: 'https://example.com', format: 'xml' })).toThrow(/format/);
  });
});
