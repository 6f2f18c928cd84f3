import { afterEach, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { insertJobs } from '../../src/store/jobs.repository.ts';
import { startDaemon, type Daemon } from '../../src/daemon.ts';
import { loadConfig } from '../../src/config.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { sampleEvents, silentLog } from '../helpers/router.ts';
import { scriptedManager, testDestination } from '../helpers/scripted-manager.ts';
import { routerFixture, type RouterFixture } from './fixture.ts';

type TestDb = RouterFixture['t'];

describe('router lifecycle', () => {
  const { t, start, stopRouters } = routerFixture();
  let daemon: Daemon | undefined;
  afterEach(async () => {
    await daemon?.stop();
    daemon = undefined;
  });

  it('aborts a stuck upload after the grace period and keeps its jobs for a retry of the same upload', async () => {
    const { manager, uploads } = scriptedManager({
      upload: (_batch, ctx) =>
        new Promise((_resolve, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason), { once: true })),
    });
    await insertJobs(t.db, 'dest-1', sampleEvents(3));
    start([testDestination(manager)], { shutdownGraceMs: 200 });
    await waitFor(() => uploads.length === 1, { message: 'the upload starts' });
    const started = Date.now();
    await stopRouters();
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    const upload = await t.db.selectFrom('br_uploads').selectAll().executeTakeFirstOrThrow();
    expect(upload.state).toBe('retry_wait');
    expect(upload.last_error).toContain('shutting down');
    const jobs = await t.db.selectFrom('br_jobs').selectAll().execute();
    expect(jobs.every((j) => j.state === 'waiting' && j.upload_id === upload.id)).toBe(true);
  });

  it('serves healthy destinations while aborting the jobs of a broken one with a reason naming the field', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'br-daemon-'));
    const out = join(dir, 'out');
    mkdirSync(out);
    const file = join(dir, 'destinations.json');
    writeFileSync(
      file,
      JSON.stringify([
        { id: 'files', manager: 'local-files', config: { directory: out, format: 'ndjson' } },
        { id: 'broken-hook', manager: 'webhook', config: { url: 'not a url' } },
      ]),
    );
    await insertJobs(t.db, 'files', sampleEvents(3));
    const brokenIds = await insertJobs(t.db, 'broken-hook', sampleEvents(2));
    // One of them waits inside an upload for its retry, as when the config broke after a failure.
    const { rows: [stuck] } = await sql<{ id: string }>`
      INSERT INTO br_uploads (destination_id, manager, state, attempt, job_count, next_attempt_at, last_error)
      VALUES ('broken-hook', 'webhook', 'retry_wait', 1, 1, now() + interval '1 hour', 'HTTP 503') RETURNING id`.execute(t.db);
    await sql`UPDATE br_jobs SET upload_id = ${stuck!.id}::bigint, attempts = 1 WHERE id = ${brokenIds[0]!}`.execute(t.db);
    const config = loadConfig({
      DATABASE_URL: t.url,
      BATCH_ROUTER_DESTINATIONS_FILE: file,
      BATCH_ROUTER_DATA_DIR: join(dir, 'data'),
      BATCH_ROUTER_SWEEP_INTERVAL_MS: '100',
      BATCH_ROUTER_IDLE_POLL_MS: '20',
      BATCH_ROUTER_UPLOAD_INTERVAL_MS: '0',
    });
    daemon = await startDaemon({
      config,
      env: {},
      log: silentLog,
      database: { db: t.db, pool: t.pool, displayUrl: 'test', embedded: false, close: async () => {} },
    });
    expect(daemon.destinations.find((d) => d.id === 'broken-hook')?.error).toMatch(/broken-hook.*url/);
    await waitFor(async () => {
      const { rows } = await sql<{ n: string }>`SELECT count(*) AS n FROM br_jobs WHERE state IN ('succeeded', 'aborted')`.execute(t.db);
      return Number(rows[0]!.n) === 5;
    }, { message: 'healthy jobs delivered, broken ones aborted' });
    const broken = await t.db.selectFrom('br_jobs').selectAll().where('destination_id', '=', 'broken-hook').execute();
    expect(broken.every((j) => j.state === 'aborted' && /url/.test(j.reason ?? ''))).toBe(true);
    // The upload its job waited in is settled, not left in retry_wait for ever.
    const upload = await t.db.selectFrom('br_uploads').selectAll().where('id', '=', stuck!.id).executeTakeFirstOrThrow();
    expect(upload.state).toBe('finished');
    const files = await t.db.selectFrom('br_jobs').selectAll().where('destination_id', '=', 'files').execute();
    expect(files.every((j) => j.state === 'succeeded')).toBe(true);
  });

  /** A managers directory holding one manager that is not finished. */
  function malformedManagersDir(): string {
    const managers = mkdtempSync(join(tmpdir(), 'br-managers-'));
    mkdirSync(join(managers, 'half-done'));
    writeFileSync(join(managers, 'half-done', 'index.ts'), 'export default { name: "half-done" };\n');
    return managers;
  }
  const sharedDatabase = () => ({ db: t.db, pool: t.pool, displayUrl: 'test', embedded: false, close: async () => {} });

  it('refuses to start when a manager directory is malformed, naming the directory', async () => {
    const managers = malformedManagersDir();
    const config = loadConfig({ DATABASE_URL: t.url, BATCH_ROUTER_DESTINATIONS_FILE: join(managers, 'none.json') });
    await expect(startDaemon({ config, env: {}, log: silentLog, managersDir: managers, database: sharedDatabase() })).rejects.toThrow(
      /half-done.*"upload" must be a function/,
    );
  });

  it('runs with the managers it is handed and does not load a directory again', async () => {
    // `start` loads the managers once to check the environment and hands them over: the malformed
    // directory would fail the start if the daemon read it a second time.
    const managersDir = malformedManagersDir();
    const config = loadConfig({ DATABASE_URL: t.url, BATCH_ROUTER_DESTINATIONS_FILE: join(managersDir, 'none.json') });
    daemon = await startDaemon({ config, env: {}, log: silentLog, managersDir, managers: new Map(), database: sharedDatabase() });
    expect(daemon.destinations).toEqual([]);
  });

  it('retention drops the partition of finished jobs older than the age, payloads included, and keeps a partition with younger ones', async () => {
    // 20 old finished jobs fill the first partition (1,000,000 ids); 5 more land in the next one.
    const old = await insertJobs(t.db, 'dest-1', sampleEvents(20));
    await sql`UPDATE br_jobs SET state = 'succeeded', finished_at = now() - interval '2 days' WHERE id = ANY(${old}::bigint[])`.execute(t.db);
    await sql`SELECT setval('br_job_ids', 1000000)`.execute(t.db);
    const ids = [...old, ...(await insertJobs(t.db, 'dest-1', sampleEvents(5)))];
    await sql`UPDATE br_jobs SET state = 'aborted', finished_at = now() WHERE id = ${ids[20]!}::bigint`.execute(t.db);
    const { manager } = scriptedManager();
    start([testDestination(manager, 'idle-dest')], { retentionMaxAgeMs: 86_400_000, retentionBatchSize: 7, sweepIntervalMs: 50 });
    await waitFor(async () => {
      const { rows } = await sql<{ n: string }>`SELECT count(*) AS n FROM br_jobs`.execute(t.db);
      return Number(rows[0]!.n) === 5;
    }, { message: 'the partition of the 20 old finished jobs is dropped' });
    const { rows } = await sql<{ n: string }>`SELECT count(*) AS n FROM br_job_payloads`.execute(t.db);
    expect(Number(rows[0]!.n)).toBe(5);
    const left = await t.db.selectFrom('br_jobs').select(['id', 'state']).orderBy('id').execute();
    expect(left.map((j) => j.id)).toEqual(ids.slice(20));
  });
});
