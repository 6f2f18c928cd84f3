/**
 * The sftp manager driven by the real router against real PostgreSQL and the in-process SFTP
 * server: jobs are enqueued, claimed, staged, uploaded and settled exactly as in production.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { insertJobs } from '../../src/store/jobs.repository.ts';
import type { Router } from '../../src/router/router.ts';
import type { ActiveDestination } from '../../src/router/types.ts';
import { startFakeSftpServer, type FakeSftpServer } from '../../test/fakes/sftp-server.ts';
import { databaseForFile } from '../../test/helpers/file-database.ts';
import { sampleEvents, startRouter } from '../../test/helpers/router.ts';
import { testDestination } from '../../test/helpers/scripted-manager.ts';
import { waitFor } from '../../test/helpers/wait-for.ts';
import sftp from './index.ts';
import { serverFiles } from './test/harness.ts';

describe('sftp through the router', () => {
  const t = databaseForFile();
  let server: FakeSftpServer;
  let router: Router | undefined;
  let destination: ActiveDestination | undefined;
  beforeEach(async () => {
    server = await startFakeSftpServer();
  });
  afterEach(async () => {
    await router?.stop();
    router = undefined;
    // The daemon closes sessions after stopping the router; the tests do the same.
    if (destination) await destination.manager.closeSession?.(destination.session);
    destination = undefined;
    await server.close();
  });

  const start = (config: Record<string, unknown>, tuning = {}) => {
    destination = testDestination(sftp, 'drop', tuning, config, [server.password]);
    router = startRouter(t.db, [destination]);
  };
  const states = async () => {
    const { rows } = await sql<{ state: string; n: string }>`
      SELECT state, count(*) AS n FROM br_jobs WHERE destination_id = 'drop' GROUP BY state`.execute(t.db);
    return Object.fromEntries(rows.map((row) => [row.state, Number(row.n)]));
  };
  const reasons = async () => {
    const { rows } = await sql<{ reason: string | null }>`SELECT DISTINCT reason FROM br_jobs WHERE destination_id = 'drop'`.execute(t.db);
    return rows.map((row) => row.reason ?? '');
  };
  /** Ids of every event in the data files the server holds, in no particular order. */
  const deliveredIds = async (files: string[]) => {
    const texts = await Promise.all(files.filter((f) => f.endsWith('.ndjson')).map((f) => readFile(join(server.root, f), 'utf8')));
    return texts.flatMap((text) => text.split('\n').filter(Boolean).map((line) => (JSON.parse(line) as { id: string }).id));
  };

  it('delivers every job once as published parts with .done markers, and the jobs end succeeded', async () => {
    await insertJobs(t.db, 'drop', sampleEvents(250));
    const pathTemplate = 'inbox/{YYYY}{MM}{DD}/events-{uploadId}-{part}.ndjson';
    start(server.config({ format: 'ndjson', pathTemplate, maxRowsPerFile: 40, doneMarker: true }), { maxEventsPerUpload: 100 });
    await waitFor(async () => (await states()).succeeded === 250, { message: 'all 250 jobs succeed', timeoutMs: 20_000 });
    const files = await serverFiles(server);
    expect(files.filter((f) => f.includes('.partial'))).toEqual([]);
    const ids = await deliveredIds(files);
    expect(ids).toHaveLength(250);
    expect(new Set(ids)).toEqual(new Set(sampleEvents(250).map((e) => (JSON.parse(e) as { id: string }).id)));
    // Uploads of at most 100 events, 40 rows a part: every upload has between 1 and 3 parts and one marker.
    const markers = files.filter((f) => f.endsWith('.done'));
    const dataFiles = files.filter((f) => f.endsWith('.ndjson'));
    expect(markers.length).toBeGreaterThanOrEqual(3);
    expect(dataFiles.length).toBeLessThanOrEqual(markers.length * 3);
    for (const marker of markers) {
      const listed = (await readFile(join(server.root, marker), 'utf8')).trimEnd().split('\n');
      for (const name of listed) expect(dataFiles).toContain(join(marker, '..', name));
    }
  });

  it('retries an upload whose connection keeps dropping, without duplicating any event', async () => {
    await insertJobs(t.db, 'drop', sampleEvents(3000));
    server.faults.drop = { afterBytes: 60_000, times: 2 }; // the first call and its one reconnect both drop
    start(server.config({ format: 'ndjson', pathTemplate: 'retry/{uploadId}-{part}.ndjson', maxRowsPerFile: 500 }), { maxEventsPerUpload: 3000 });
    await waitFor(async () => (await states()).succeeded === 3000, { message: 'all jobs succeed after the retry', timeoutMs: 20_000 });
    expect(server.faults.drop.times).toBe(0);
    const { rows } = await sql<{ attempt: number }>`SELECT attempt FROM br_uploads WHERE destination_id = 'drop'`.execute(t.db);
    expect(rows.map((row) => row.attempt)).toEqual([2]);
    const files = await serverFiles(server);
    expect(files.filter((f) => f.includes('.partial'))).toEqual([]);
    const ids = await deliveredIds(files);
    expect(ids).toHaveLength(3000);
    expect(new Set(ids).size).toBe(3000);
  });

  it('aborts the jobs with the server\'s reason when writing is not permitted', async () => {
    await insertJobs(t.db, 'drop', sampleEvents(5));
    server.faults.denyWrite = () => true;
    start(server.config({ pathTemplate: 'locked/{uploadId}.csv' }));
    await waitFor(async () => (await states()).aborted === 5, { message: 'the jobs are aborted' });
    const [reason] = await reasons();
    expect(reason).toContain('permission denied');
    expect(reason).toContain('Permission denied: /locked/');
    expect(await serverFiles(server)).toEqual([]);
  });

  it('aborts the jobs naming both fingerprints when the host key does not match', async () => {
    await insertJobs(t.db, 'drop', sampleEvents(3));
    const pinned = `SHA256:${'Z'.repeat(43)}`;
    start(server.config({ hostKeySha256: pinned }));
    await waitFor(async () => (await states()).aborted === 3, { message: 'the jobs are aborted' });
    const [reason] = await reasons();
    expect(reason).toMatch(/^destination config: host key of 127\.0\.0\.1:\d+ does not match "hostKeySha256"/);
    expect(reason).toContain(`expected ${pinned}`);
    expect(reason).toContain(`received ${server.hostKeySha256}`);
    expect(server.logins()).toBe(0);
  });
});
