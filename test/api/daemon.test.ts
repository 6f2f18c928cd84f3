import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { Validator } from '@seriousme/openapi-schema-validator';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Companion } from '../../src/cli/commands/start.ts';
import { apiCompanion } from '../../src/cli/commands/start.ts';
import { loadConfig } from '../../src/config.ts';
import { startDaemon, type Daemon } from '../../src/daemon.ts';
import { insertJobs } from '../../src/store/jobs.repository.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { silentLog } from '../helpers/router.ts';
import { waitFor } from '../helpers/wait-for.ts';

describe('the API as the daemon runs it', () => {
  let t: TestDatabase;
  let daemon: Daemon;
  let api: Companion & { url?: string };
  let url: string;
  let out: string;
  beforeAll(async () => {
    t = await createTestDatabase();
    const dir = mkdtempSync(join(tmpdir(), 'br-api-daemon-'));
    out = join(dir, 'out');
    const destinationsFile = join(dir, 'destinations.json');
    writeFileSync(destinationsFile, JSON.stringify([
      { id: 'files', manager: 'local-files', config: { directory: out, format: 'ndjson' } },
      { id: 'later', manager: 'local-files', enabled: false, config: { directory: out } },
    ]));
    const config = loadConfig({
      DATABASE_URL: t.url, PORT: '0', BATCH_ROUTER_API_HOST: '127.0.0.1', BATCH_ROUTER_DESTINATIONS_FILE: destinationsFile,
      BATCH_ROUTER_DATA_DIR: join(dir, 'data'), BATCH_ROUTER_API_KEYS_FILE: join(dir, 'keys.json'),
      BATCH_ROUTER_UPLOAD_INTERVAL_MS: '0', BATCH_ROUTER_IDLE_POLL_MS: '20',
    });
    daemon = await startDaemon({ config, env: {}, log: silentLog, database: { db: t.db, pool: t.pool, displayUrl: 'test', embedded: false, close: async () => {} } });
    api = await apiCompanion({ daemon, config, env: {}, log: silentLog });
    url = (api as unknown as { url: string }).url;
  });
  afterAll(async () => {
    await api?.stop();
    await daemon?.stop();
    await t?.close();
  });

  it('delivers submitted events through a real manager and answers synchronously within Prefer: wait', async () => {
    const res = await fetch(`${url}/v1/destinations/files/events`, {
      method: 'POST', headers: { 'content-type': 'application/json', prefer: 'respond-async, wait=20' },
      body: JSON.stringify({ events: [{ id: 'a' }, { id: 'b' }, { id: 'c' }] }),
    });
    expect(res.status).toBe(200);
    expect((await res.json()).submission).toMatchObject({ state: 'completed', counts: { succeeded: 3 } });
    expect(readdirSync(out).length).toBeGreaterThan(0);
  });

  it('publishes a valid OpenAPI 3.1 document generated from the routes, with the callback and the SSE routes', async () => {
    const doc = await (await fetch(`${url}/openapi.json`)).json();
    const result = await new Validator().validate(doc);
    expect(result).toEqual({ valid: true });
    expect(doc.openapi).toBe('3.1.0');
    const submitOp = doc.paths['/v1/destinations/{destinationId}/events'].post;
    expect(Object.keys(submitOp.responses['202'].headers)).toEqual(['Location', 'Retry-After']);
    expect(submitOp.callbacks.submissionCompleted['{$request.body#/callback/url}'].post.requestBody.content['application/json']).toBeDefined();
    expect(doc.paths['/v1/submissions/{id}/events'].get.responses['200'].content['text/event-stream']).toBeDefined();
    expect(doc.paths['/v1/uploads/{id}/events'].get.responses['200'].content['text/event-stream']).toBeDefined();
    for (const path of ['/v1/submissions/{id}', '/v1/jobs', '/v1/jobs/{id}', '/v1/jobs/{id}/retry', '/v1/uploads/{id}', '/v1/destinations', '/v1/destinations/{id}', '/v1/destinations/{id}/retry', '/metrics', '/healthz', '/readyz']) {
      expect(doc.paths[path], path).toBeDefined();
    }
    expect(Object.keys(doc.components.schemas)).toEqual(expect.arrayContaining(['Job', 'Submission', 'Upload', 'Destination', 'Error', 'Accepted']));
  });

  it('exposes Prometheus metrics: jobs by state, backlog age, upload durations, vendor errors by code', async () => {
    await insertJobs(t.db, 'later', ['{"waiting":true}']);
    await sql`INSERT INTO br_uploads (destination_id, manager, state, job_count, last_error, error_code, updated_at)
              VALUES ('files', 'local-files', 'retry_wait', 1, 'vendor answered 503 Service Unavailable', 'vendor_unavailable', now()),
                     ('files', 'local-files', 'retry_wait', 1, 'an error stored before codes were', NULL, now())`.execute(t.db);
    const text = await (await fetch(`${url}/metrics`)).text();
    expect(text).toMatch(/^batch_router_jobs\{destination="files",state="succeeded"\} 3$/m);
    expect(text).toMatch(/^batch_router_backlog_age_seconds\{destination="later"\} [\d.e-]+$/m);
    expect(text).toMatch(/^batch_router_upload_duration_seconds\{destination="files",quantile="0.5"\} [\d.e-]+$/m);
    expect(text).toMatch(/^batch_router_vendor_errors\{destination="files",code="vendor_unavailable"\} 1$/m);
    expect(text).toMatch(/^batch_router_vendor_errors\{destination="files",code="other"\} 1$/m);
    expect(text).toMatch(/^batch_router_api_events_accepted_total\{destination="files"\} 3$/m);
    expect(text).toMatch(/^batch_router_api_requests_total\{method="POST",route="\/v1\/destinations\/:destinationId\/events",status="200"\} 1$/m);
  });
});
