/**
 * The API additions behind the dashboard: per-minute deliveries, uploads in flight and the median
 * upload time on a destination; its failures grouped by reason; its recent uploads with the
 * vendor's import id; the bulk cancel of its waiting jobs; GET /v1/me; and the static routes
 * (`/` → `/ui/`, the dashboard's files, `/docs`), with their security headers.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobOutcome } from '../../src/manager/contract.ts';
import { scriptedManager } from '../helpers/scripted-manager.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { startHarness, submit, type ApiHarness } from './harness.ts';

describe('dashboard API', () => {
  let h: ApiHarness;
  let importDone = false;
  beforeAll(async () => {
    // Odd events are refused for one reason, events 0 and 2 for another, the rest succeed.
    const picky = scriptedManager({
      upload: async (batch, _ctx, rows) => ({
        outcomes: batch.jobIds.map((jobId, i) => {
          const n = Number(rows[i]!.n);
          if (n % 2 === 1) return { jobId, kind: 'aborted' as const, reason: 'the record has no email address' };
          if (n === 0 || n === 2) return { jobId, kind: 'aborted' as const, reason: 'the record is a duplicate' };
          return { jobId, kind: 'succeeded' as const };
        }),
      }),
    }, 'picky');
    const slow = scriptedManager({
      upload: async (batch) => ({ outcomes: [], imports: [{ handle: { vendorJobId: 'VJ-42', file: 'secret/path.csv' }, jobs: batch.jobIds.map((jobId) => ({ jobId })) }] }),
      poll: async () => (importDone ? { status: 'completed' } : { status: 'in_progress', progress: 40 }),
      getUploadStats: async (_open, jobs): Promise<JobOutcome[]> => jobs.map((j) => ({ jobId: j.jobId, kind: 'succeeded' })),
    }, 'slow');
    h = await startHarness({
      destinations: [
        { id: 'picky', manager: picky.manager },
        { id: 'slow', manager: slow.manager },
        { id: 'parked', manager: scriptedManager().manager, routed: false },
      ],
      keys: { admin: { scopes: ['admin'] }, reader: { scopes: ['jobs:read'], destinations: ['picky'] } },
    });
  });
  afterAll(async () => {
    importDone = true;
    await h.close();
  });
  const admin = (method: string, path: string, body?: unknown) => h.call(method, path, { key: h.keys.admin, ...(body === undefined ? {} : { body }) });

  it('groups aborted jobs by reason, largest first, and counts deliveries in the current minute', async () => {
    await submit(h, 'picky', 10, { key: h.keys.admin });
    // Final means succeeded or aborted: "none waiting" also holds while a claimed upload is still
    // executing, which a busy machine makes long enough to read the failures too early.
    await waitFor(async () => {
      const { backlog } = (await admin('GET', '/v1/destinations/picky')).body;
      return backlog.succeeded + backlog.aborted === 10;
    }, { message: 'all 10 jobs final' });
    const failures = await admin('GET', '/v1/destinations/picky/failures');
    expect(failures.status).toBe(200);
    expect(failures.body.failures).toEqual([
      { reason: 'the record has no email address', errorCode: expect.any(String), count: 5, lastAt: expect.any(String) },
      { reason: 'the record is a duplicate', errorCode: expect.any(String), count: 2, lastAt: expect.any(String) },
    ]);
    const d = (await admin('GET', '/v1/destinations/picky')).body;
    expect(d.deliveredPerMinute).toHaveLength(60);
    // The jobs finished within the last two minutes (the test may straddle a minute boundary).
    expect(d.deliveredPerMinute.slice(-2).reduce((a: number, b: number) => a + b, 0)).toBe(3);
    expect(d.deliveredPerMinute.slice(0, -2).every((v: number) => v === 0)).toBe(true);
    expect(d.medianUploadSeconds).toEqual(expect.any(Number));
    expect(d.health.uploadsInFlight).toBe(0);
  });

  it('lists recent uploads with the vendor id of each import, never the rest of the handle', async () => {
    await submit(h, 'slow', 3, { key: h.keys.admin });
    const uploads = await waitFor(async () => {
      const body = (await admin('GET', '/v1/destinations/slow/uploads')).body;
      return body.uploads[0]?.imports[0]?.progress === 40 ? body.uploads : undefined;
    }, { message: 'the import to report progress' });
    expect(uploads).toHaveLength(1);
    expect(uploads[0].imports[0]).toMatchObject({ vendorId: 'VJ-42', state: 'polling' });
    expect(JSON.stringify(uploads)).not.toContain('secret/path.csv');
    expect((await admin('GET', '/v1/destinations/slow')).body.health.openImports).toBe(1);
  });

  it('cancels the waiting jobs of a destination with jobs:write, and refuses a reader', async () => {
    await submit(h, 'parked', 4, { key: h.keys.admin });
    expect((await h.call('POST', '/v1/destinations/parked/cancel', { key: h.keys.reader })).status).toBe(403);
    const res = await admin('POST', '/v1/destinations/parked/cancel');
    expect(res.status).toBe(200);
    expect(res.body.cancelled).toBe(4);
    expect((await admin('GET', '/v1/destinations/parked')).body.backlog).toMatchObject({ waiting: 0, cancelled: 4 });
    expect((await admin('POST', '/v1/destinations/parked/cancel')).body.cancelled).toBe(0);
  });

  it('GET /v1/me tells a key its scopes and destinations; a key cannot read another tenant\'s failures', async () => {
    const me = await h.call('GET', '/v1/me', { key: h.keys.reader });
    expect(me.body).toEqual({ name: 'reader', scopes: ['jobs:read'], destinations: ['picky'], keyRequired: true });
    expect((await h.call('GET', '/v1/me')).status).toBe(401);
    expect((await h.call('GET', '/v1/destinations/slow/failures', { key: h.keys.reader })).status).toBe(404);
    expect((await h.call('GET', '/v1/destinations/slow/uploads', { key: h.keys.reader })).status).toBe(404);
  });

  it('documents the new routes and fields in /openapi.json', async () => {
    const doc = (await h.call('GET', '/openapi.json')).body;
    for (const path of ['/v1/destinations/{id}/failures', '/v1/destinations/{id}/uploads', '/v1/destinations/{id}/cancel', '/v1/me']) {
      expect(doc.paths[path], path).toBeDefined();
    }
    expect(doc.components.schemas.Destination.properties.deliveredPerMinute).toBeDefined();
    expect(doc.paths['/ui/{name}']).toBeUndefined();
  });

  it('redirects / to the dashboard and serves its files with a strict CSP, no key needed', async () => {
    const root = await h.call('GET', '/');
    expect(root.status).toBe(302);
    expect(root.headers.get('location')).toBe('/ui/');
    const index = await h.call('GET', '/ui/');
    expect(index.status).toBe(200);
    expect(index.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(index.text).toContain('/ui/app.js');
    const hooks = await h.call('GET', '/ui/vendor/hooks.mjs');
    expect(hooks.headers.get('content-type')).toContain('text/javascript');
    expect(hooks.text).not.toMatch(/from\s*"preact"/);
    expect((await h.call('GET', '/ui/vendor/htm.mjs')).text).toMatch(/export\s*\{|export default/);
    expect((await h.call('GET', '/ui/..%2Fpackage.json')).status).toBe(404);
    expect((await h.call('GET', '/docs')).text).toContain('/ui/docs.js');
  });
});
