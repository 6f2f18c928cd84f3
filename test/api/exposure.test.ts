/**
 * What the API shows and to whom (issue 12, section 2): with no key configured only a loopback
 * Host and Origin are served (DNS rebinding), and a callback URL is shown in full only to the key
 * that set it.
 */
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scriptedManager } from '../helpers/scripted-manager.ts';
import { databaseForFile } from '../helpers/file-database.ts';
import { startHarness, submit, type ApiHarness } from './harness.ts';
import { openSse } from './sse-client.ts';

/** A GET with headers fetch will not let us set (Host). */
function get(url: string, headers: Record<string, string>): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : undefined }));
    });
    req.on('error', reject);
    req.end();
  });
}

// One database for the file's harnesses: each empties it as it starts (cloning one per harness
// was most of these tests' set-up time on a busy server).
const database = databaseForFile({ emptyBeforeEach: false });

describe('no key configured: DNS rebinding', () => {
  let h: ApiHarness;
  beforeAll(async () => {
    h = await startHarness({ database, destinations: [{ id: 'parked', manager: scriptedManager().manager, routed: false }] });
  });
  afterAll(async () => h?.close());

  it('answers 421 to a foreign Host and 403 to a foreign Origin, and serves loopback ones', async () => {
    const url = `${h.url}/v1/destinations`;
    const port = new URL(h.url).port;
    const foreign = await get(url, { host: `rebound.example.com:${port}` });
    expect(foreign.status).toBe(421);
    expect(foreign.body).toMatchObject({ error: 'host_not_allowed', requestId: expect.any(String) });
    expect(foreign.body.message).toMatch(/loopback Host/);
    const origin = await get(url, { host: `localhost:${port}`, origin: 'http://rebound.example.com' });
    expect(origin.status).toBe(403);
    expect(origin.body.error).toBe('origin_not_allowed');
    expect((await get(url, { host: `localhost:${port}`, origin: `http://localhost:${port}` })).status).toBe(200);
    expect((await get(url, { host: `127.0.0.1:${port}` })).status).toBe(200);
    expect((await get(url, { host: `[::1]:${port}` })).status).toBe(200);
  });
});

describe('callback URLs', () => {
  let h: ApiHarness;
  const secretUrl = 'http://127.0.0.1:9/hooks/T0001/s3cret-path?token=s3cret-query';
  beforeAll(async () => {
    h = await startHarness({
      database,
      destinations: [{ id: 'parked', manager: scriptedManager().manager, routed: false }],
      keys: { owner: { scopes: ['events:write', 'jobs:read'] }, admin: { scopes: ['admin'] } },
    });
  });
  afterAll(async () => h?.close());

  it('are shown in full only to the key that set them; other keys see scheme and host', async () => {
    const accepted = await submit(h, 'parked', 1, { key: h.keys.owner, callback: secretUrl });
    expect(accepted.status).toBe(202);
    const path = `/v1/submissions/${accepted.body.submissionId}`;
    expect((await h.call('GET', path, { key: h.keys.owner })).body.callback.url).toBe(secretUrl);
    const seen = await h.call('GET', path, { key: h.keys.admin });
    expect(seen.body.callback.url).toBe('http://127.0.0.1:9/[redacted]');
    expect(seen.text).not.toContain('s3cret');
    const stream = await openSse(`${h.url}${path}/events`, { authorization: `Bearer ${h.keys.admin}` });
    const first = await stream.next();
    stream.close();
    expect(first?.data.callback.url).toBe('http://127.0.0.1:9/[redacted]');
    expect(JSON.stringify(first)).not.toContain('s3cret');
  });
});
