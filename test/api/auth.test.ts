import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKey, revokeKey } from '../../src/api/keys-store.ts';
import { runCli } from '../cli/cli-runner.ts';
import { scriptedManager } from '../helpers/scripted-manager.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { databaseForFile } from '../helpers/file-database.ts';
import { startHarness, submit, type ApiHarness } from './harness.ts';

// One database for the file's harnesses: each empties it as it starts (cloning one per harness
// was most of these tests' set-up time on a busy server).
const database = databaseForFile({ emptyBeforeEach: false });

describe('API keys, scopes and tenants', () => {
  let h: ApiHarness;
  let k: Record<string, string>;
  let jobOfB: string;
  let submissionOfB: string;
  let uploadOfB: string;
  beforeAll(async () => {
    h = await startHarness({
      database,
      destinations: [{ id: 'a', manager: scriptedManager().manager, routed: false }, { id: 'b', manager: scriptedManager().manager }],
      keys: {
        ingest: { scopes: ['events:write'] },
        reader: { scopes: ['jobs:read'] },
        payloads: { scopes: ['jobs:read', 'jobs:read-payload'] },
        writer: { scopes: ['jobs:write'] },
        tenantA: { scopes: ['events:write', 'jobs:read', 'jobs:write', 'jobs:read-payload'], destinations: ['a'] },
        admin: { scopes: ['admin'] },
      },
    });
    k = h.keys;
    const accepted = await submit(h, 'b', 1, { key: k.admin!, headers: { Prefer: 'wait=10' } });
    submissionOfB = accepted.body.submissionId;
    jobOfB = accepted.body.jobIds[0];
    uploadOfB = (await h.call('GET', `/v1/jobs/${jobOfB}`, { key: k.admin! })).body.uploadId;
  });
  afterAll(() => h.close());

  it('answers 401 with WWW-Authenticate without a valid key; health and OpenAPI stay public', async () => {
    for (const headers of [{}, { authorization: 'Bearer brk_not-a-key' }, { authorization: `Basic ${k.admin}` }] as Array<Record<string, string>>) {
      const res = await h.call('GET', '/v1/jobs', { headers });
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Bearer');
      expect(res.body.error).toBe('unauthorized');
    }
    // Refused before the body is read: an anonymous caller cannot make us parse a large body.
    expect((await h.call('POST', '/v1/destinations/a/events', { raw: '{not json' })).status).toBe(401);
    expect((await h.call('GET', '/healthz')).status).toBe(200);
    expect((await h.call('GET', '/readyz')).body).toEqual({ status: 'ready' });
    expect((await h.call('GET', '/openapi.json')).body.openapi).toBe('3.1.0');
  });

  it('answers 403 when the key lacks the scope, checked before the resource exists', async () => {
    const cases: Array<[string, string, string, unknown?]> = [
      ['reader', 'POST', '/v1/destinations/a/events', { events: [{}] }],
      ['ingest', 'GET', '/v1/jobs', undefined],
      ['ingest', 'GET', `/v1/submissions/${submissionOfB}`, undefined],
      ['reader', 'DELETE', '/v1/jobs/1', undefined],
      ['reader', 'POST', '/v1/destinations/a/retry', {}],
      ['writer', 'GET', '/v1/destinations', undefined],
      ['reader', 'GET', '/metrics', undefined],
    ];
    for (const [key, method, path, body] of cases) {
      const res = await h.call(method, path, { key: k[key]!, ...(body ? { body } : {}) });
      expect(res.status, `${key} ${method} ${path}`).toBe(403);
      expect(res.body.message).toMatch(/lacks the ".+" scope/);
    }
    expect((await h.call('GET', '/metrics', { key: k.admin! })).status).toBe(200);
    expect((await h.call('POST', '/v1/destinations/a/events', { key: k.ingest!, body: { events: [{}] } })).status).toBe(202);
  });

  it('shows the payload only with jobs:read-payload', async () => {
    expect((await h.call('GET', `/v1/jobs/${jobOfB}`, { key: k.reader! })).body.payload).toBeUndefined();
    expect((await h.call('GET', `/v1/jobs/${jobOfB}`, { key: k.payloads! })).body.payload).toEqual({ id: 'e-0', n: 0 });
  });

  it('never reveals another tenant\'s destinations, jobs, submissions or uploads: 404 like an unknown id', async () => {
    expect((await submit(h, 'a', 1, { key: k.tenantA! })).status).toBe(202);
    const other = await h.call('GET', `/v1/jobs/${jobOfB}`, { key: k.tenantA! });
    const unknown = await h.call('GET', '/v1/jobs/999999999', { key: k.tenantA! });
    expect(other.status).toBe(404);
    expect(Object.keys(other.body).sort()).toEqual(Object.keys(unknown.body).sort());
    expect(other.body.message.replace(jobOfB, 'ID')).toBe(unknown.body.message.replace('999999999', 'ID'));
    const hidden: Array<[string, string, unknown?]> = [
      ['POST', '/v1/destinations/b/events', { events: [{}] }],
      ['GET', `/v1/submissions/${submissionOfB}`], ['GET', `/v1/submissions/${submissionOfB}/events`],
      ['DELETE', `/v1/submissions/${submissionOfB}`], ['DELETE', `/v1/jobs/${jobOfB}`], ['POST', `/v1/jobs/${jobOfB}/retry`],
      ['GET', `/v1/uploads/${uploadOfB}`], ['GET', `/v1/uploads/${uploadOfB}/events`],
      ['GET', '/v1/destinations/b'], ['POST', '/v1/destinations/b/retry', {}],
    ];
    for (const [method, path, body] of hidden) {
      const res = await h.call(method, path, { key: k.tenantA!, ...(body ? { body } : {}) });
      expect(res.status, `${method} ${path}`).toBe(404);
    }
    const list = await h.call('GET', '/v1/jobs', { key: k.tenantA! });
    expect(list.body.jobs.length).toBeGreaterThan(0);
    expect(list.body.jobs.every((j: { destinationId: string }) => j.destinationId === 'a')).toBe(true);
    expect((await h.call('GET', '/v1/jobs?destinationId=b', { key: k.tenantA! })).body.jobs).toEqual([]);
    expect((await h.call('GET', `/v1/jobs?submissionId=${submissionOfB}`, { key: k.tenantA! })).body.jobs).toEqual([]);
    expect((await h.call('GET', '/v1/destinations', { key: k.tenantA! })).body.destinations.map((d: { id: string }) => d.id)).toEqual(['a']);
  });

  it('keeps only SHA-256 hashes in the keys file, and a revoked key stops working without a restart', async () => {
    const file = readFileSync(h.keysFile, 'utf8');
    for (const key of Object.values(k)) {
      expect(file).not.toContain(key);
      expect(file).toContain(`sha256:${createHash('sha256').update(key).digest('hex')}`);
    }
    const { key, record } = createKey(h.keysFile, { name: 'short-lived', scopes: ['jobs:read'] });
    await waitFor(async () => (await h.call('GET', '/v1/destinations', { key })).status === 200, { message: 'the new key is picked up' });
    revokeKey(h.keysFile, record.id);
    await waitFor(async () => (await h.call('GET', '/v1/destinations', { key })).status === 401, { message: 'the revoked key is refused' });
  });

  it('manages keys from the CLI: create prints the key once, list hides hashes, revoke', async () => {
    const env = { BATCH_ROUTER_API_KEYS_FILE: h.keysFile, LOG_LEVEL: 'warn' };
    const created = await runCli(['keys', 'create', '--name', 'cli-made', '--scopes', 'jobs:read', '--destinations', 'a', '--json'], env);
    expect(created.code).toBe(0);
    const made = JSON.parse(created.stdout) as { key: string; id: string };
    expect(made.key).toMatch(/^brk_/);
    await waitFor(async () => (await h.call('GET', '/v1/destinations', { key: made.key })).status === 200, { message: 'the CLI key works' });
    const listed = await runCli(['keys', 'list', '--json'], env);
    expect(listed.stdout).not.toContain('sha256:');
    expect(JSON.parse(listed.stdout).find((r: { id: string }) => r.id === made.id)).toMatchObject({ name: 'cli-made', destinations: ['a'] });
    expect((await runCli(['keys', 'revoke', made.id], env)).code).toBe(0);
    await waitFor(async () => (await h.call('GET', '/v1/destinations', { key: made.key })).status === 401, { message: 'the CLI-revoked key is refused' });
    // None of these writes the keys file, so they run side by side (each start costs seconds).
    const [badScope, unknownKey, secret] = await Promise.all([
      runCli(['keys', 'create', '--name', 'x', '--scopes', 'everything'], env),
      runCli(['keys', 'revoke', 'key_nope'], env),
      runCli(['keys', 'secret'], env),
    ]);
    expect(badScope.code).toBe(2);
    expect(unknownKey.code).toBe(2);
    expect(secret.stdout).toMatch(/^whsec_[A-Za-z0-9+/]+=*\n$/);
  });
});

describe('without keys, rate limits, and failures', () => {
  it('binds to loopback only while no key exists, whatever the host setting, and asks for keys once one exists', async () => {
    const h = await startHarness({ database, destinations: [{ id: 'a', manager: scriptedManager().manager, routed: false }], env: { BATCH_ROUTER_API_HOST: '0.0.0.0' } });
    try {
      expect(new URL(h.url).hostname).toBe('127.0.0.1');
      expect((await h.call('GET', '/v1/destinations')).status).toBe(200);
      createKey(h.keysFile, { name: 'first', scopes: ['admin'] });
      await waitFor(async () => (await h.call('GET', '/v1/destinations')).status === 401, { message: 'keys are required once one exists' });
    } finally {
      await h.close();
    }
  });

  it('limits each key to its rate with 429 and Retry-After, without affecting other keys', async () => {
    // The limiter's clock moves only when the test says: on a busy machine four requests can take
    // longer than the second that refills a token, which turned the expected 429 into a 200.
    let now = 1_000_000;
    const h = await startHarness({
      database,
      destinations: [{ id: 'a', manager: scriptedManager().manager, routed: false }],
      env: { BATCH_ROUTER_API_RATE_LIMIT: '1', BATCH_ROUTER_API_RATE_BURST: '3' },
      keys: { busy: { scopes: ['jobs:read'] }, calm: { scopes: ['jobs:read'] } },
      now: () => now,
    });
    try {
      const statuses = [];
      for (let i = 0; i < 4; i++) statuses.push((await h.call('GET', '/v1/destinations', { key: h.keys.busy! })).status);
      expect(statuses).toEqual([200, 200, 200, 429]);
      const limited = await h.call('GET', '/v1/destinations', { key: h.keys.busy! });
      expect(limited.status).toBe(429);
      expect(Number(limited.headers.get('retry-after'))).toBe(1);
      expect((await h.call('GET', '/v1/destinations', { key: h.keys.calm! })).status).toBe(200);
      // One second at one request per second refills one token, not more.
      now += 1000;
      expect((await h.call('GET', '/v1/destinations', { key: h.keys.busy! })).status).toBe(200);
      expect((await h.call('GET', '/v1/destinations', { key: h.keys.busy! })).status).toBe(429);
    } finally {
      await h.close();
    }
  });

  it('answers an internal failure with 500, a request id and no internals; readiness reports pending migrations with 503', async () => {
    // Its own database: it renames a table and forgets a migration, which emptying cannot undo.
    const h = await startHarness({ destinations: [{ id: 'a', manager: scriptedManager().manager, routed: false }] });
    try {
      const accepted = await submit(h, 'a', 1);
      await sql`ALTER TABLE br_submissions RENAME TO br_submissions_gone`.execute(h.db.db);
      const res = await h.call('GET', `/v1/submissions/${accepted.body.submissionId}`);
      expect(res.status).toBe(500);
      expect(res.body).toMatchObject({ error: 'internal', requestId: expect.any(String) });
      expect(res.text).not.toMatch(/br_submissions|relation|SELECT|postgres|\.ts:/);
      await sql`ALTER TABLE br_submissions_gone RENAME TO br_submissions`.execute(h.db.db);
      // A database whose schema is behind this code is not ready to serve it.
      await sql`DELETE FROM br_migrations WHERE name = '2026-11-30T00-00-00_api'`.execute(h.db.db);
      const ready = await h.call('GET', '/readyz');
      expect(ready.status).toBe(503);
      expect(ready.body.problem).toContain('pending migrations: 2026-11-30T00-00-00_api');
    } finally {
      await h.close();
    }
  });
});
