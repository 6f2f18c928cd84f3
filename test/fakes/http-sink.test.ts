import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startHttpSink, type HttpSink } from './http-sink.ts';

describe('http sink fake', () => {
  let sink: HttpSink;
  beforeAll(async () => {
    sink = await startHttpSink({ seed: 7 });
  });
  afterAll(() => sink.close());
  beforeEach(() => sink.reset());

  const post = (body: string, type = 'application/json') =>
    fetch(`${sink.url}/in`, { method: 'POST', headers: { 'content-type': type }, body });

  it('counts events, unique ids and duplicates across json and ndjson bodies', async () => {
    expect((await post('{"events":[{"id":1},{"messageId":"m"},{"x":0}]}')).status).toBe(200);
    expect((await post('{"id":1}\n{"id":2}\n', 'application/x-ndjson')).status).toBe(200);
    expect(sink.stats()).toMatchObject({ requests: 2, accepted: 2, events: 5, uniqueIds: 3, duplicates: 1, eventsWithoutId: 1 });
    expect(sink.requests()).toEqual([]); // not recording unless asked
  });

  it('answers a malformed body with 400 and does not count it', async () => {
    const response = await post('{"events":');
    expect(response.status).toBe(400);
    expect(await response.text()).toContain('malformed');
    expect(sink.stats()).toMatchObject({ requests: 1, accepted: 0, rejected: 1, events: 0 });
  });

  it('plays a script in order, then falls back to 200', async () => {
    sink.script({ status: 429, retryAfter: 3, times: 2 }, { status: 500, body: 'down' });
    const answers = [];
    for (let i = 0; i < 4; i += 1) {
      const response = await post('{"events":[{"id":"a"}]}');
      answers.push([response.status, response.headers.get('retry-after'), await response.text()]);
    }
    expect(answers.map(([status, retryAfter]) => [status, retryAfter])).toEqual([[429, '3'], [429, '3'], [500, null], [200, null]]);
    expect(answers[2]?.[2]).toBe('down');
    expect(sink.stats().statuses).toEqual({ 200: 1, 429: 2, 500: 1 });
  });

  it('fails about the configured fraction of requests, reproducibly per seed', async () => {
    sink.failFraction(0.25, { status: 503 });
    for (let i = 0; i < 200; i += 1) await (await post('{"events":[]}')).text();
    const first = sink.stats().statuses[503] ?? 0;
    expect(first).toBeGreaterThan(30);
    expect(first).toBeLessThan(70);
    sink.reset();
    sink.failFraction(0.25, { status: 503 });
    for (let i = 0; i < 200; i += 1) await (await post('{"events":[]}')).text();
    expect(sink.stats().statuses[503]).toBe(first);
  });
});
