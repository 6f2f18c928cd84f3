/**
 * The read-only commands (jobs, job, destinations, managers, help) as real child processes. Jobs
 * are seeded with the repository and moved between states with SQL, so every count is known.
 */
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertJobs } from '../../src/store/jobs.repository.ts';
import { createUpload } from '../../src/store/uploads.repository.ts';
import { createTestDatabase } from '../helpers/database.ts';
import { cliWorkspace, parseJson, runCli, type CliWorkspace } from './cli-runner.ts';

type TestDb = Awaited<ReturnType<typeof createTestDatabase>>;
let t: TestDb;
let ws: CliWorkspace;
let ids: string[];
let uploadId: string;
const TOKEN = 'sekrit-token-value-123';

beforeAll(async () => {
  t = await createTestDatabase();
  ws = cliWorkspace(t.url, [
    { id: 'demo-files', manager: 'local-files', config: { directory: './out' } },
    { id: 'hook', manager: 'webhook', enabled: false, config: { url: 'http://127.0.0.1:9/in', headers: { Authorization: `Bearer \${CLI_TEST_TOKEN}` } } },
    { id: 'broken', manager: 'no-such-manager', config: {} },
  ]);
  ws.env.CLI_TEST_TOKEN = TOKEN;
  // demo-files: 2 waiting, 1 executing (in an upload), 1 succeeded, 1 aborted; ghost: 1 waiting.
  ids = await insertJobs(t.db, 'demo-files', ['{"n":1}', '{"n":2}', '{"n":3}', '{"n":4}', '{"n":5}'], 'sub-1');
  await insertJobs(t.db, 'ghost', ['{"g":1}']);
  ({ id: uploadId } = await createUpload(t.db, { destinationId: 'demo-files', manager: 'local-files', lease: { owner: 'w1', ms: 60_000 } }));
  await sql`UPDATE br_jobs SET state = 'executing', attempts = 1, upload_id = ${uploadId}::bigint WHERE id = ${ids[2]}::bigint`.execute(t.db);
  await sql`UPDATE br_jobs SET state = 'succeeded', finished_at = now() WHERE id = ${ids[3]}::bigint`.execute(t.db);
  await sql`UPDATE br_jobs SET state = 'aborted', finished_at = now(), reason = 'vendor said no' WHERE id = ${ids[4]}::bigint`.execute(t.db);
});
afterAll(async () => {
  ws?.cleanup();
  await t?.close();
});

describe('batch-router jobs / job', () => {
  it('jobs --json lists the documented fields, newest first, filtered', async () => {
    const result = await runCli(['jobs', '--json', '--destination', 'demo-files', '--state', 'waiting,aborted', '--payload'], ws.env);
    expect(result.code, result.stderr).toBe(0);
    const rows = parseJson<Array<Record<string, unknown>>>(result);
    expect(rows.map((row) => row.id)).toEqual([ids[4], ids[1], ids[0]]);
    expect(Object.keys(rows[0]!).sort()).toEqual(
      ['id', 'destinationId', 'state', 'attempts', 'nextAttemptAt', 'reason', 'lastError', 'errorCode', 'vendorCode', 'uploadId', 'importId', 'createdAt', 'updatedAt', 'finishedAt', 'payload'].sort(),
    );
    expect(rows[0]).toMatchObject({ state: 'aborted', reason: 'vendor said no', payload: { n: 5 }, destinationId: 'demo-files' });
    expect(rows[0]!.finishedAt).toMatch(/^\d{4}-\d\d-\d\dT/);
  });

  it('job <id> shows the payload, the upload and when a waiting job is next tried; upload <id> its jobs', async () => {
    const [executing, waiting, missing, upload] = await Promise.all([
      runCli(['job', ids[2]!, '--json'], ws.env),
      runCli(['job', ids[0]!], ws.env),
      runCli(['job', '987654321'], ws.env),
      runCli(['upload', uploadId, '--json'], ws.env),
    ]);
    expect(executing.code, executing.stderr).toBe(0);
    const job = parseJson<Record<string, any>>(executing);
    expect(job).toMatchObject({ id: ids[2], state: 'executing', payload: { n: 3 }, submissionId: 'sub-1', nextTryAt: null, import: null });
    expect(job.upload).toMatchObject({ state: 'uploading', leaseOwner: 'w1', manager: 'local-files' });

    expect(waiting.code, waiting.stderr).toBe(0);
    expect(waiting.stdout).toMatch(/next try\s+due now .*, first attempt/);
    expect(waiting.stdout).toContain('"n": 1');

    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('job 987654321 not found');

    expect(upload.code, upload.stderr).toBe(0);
    expect(parseJson(upload)).toMatchObject({ id: uploadId, state: 'uploading', imports: [], jobs: { executing: 1, waiting: 0 } });
  });
});

describe('batch-router destinations', () => {
  it('--json gives exactly id, manager, enabled, valid, error?, counts for file and database-only destinations', async () => {
    const result = await runCli(['destinations', '--json'], ws.env);
    expect(result.code, result.stderr).toBe(2); // "broken" is invalid: the listing still comes, the exit code says so
    const zero = { waiting: 0, executing: 0, importing: 0, succeeded: 0, aborted: 0, cancelled: 0 };
    expect(parseJson(result)).toEqual([
      { id: 'demo-files', manager: 'local-files', enabled: true, valid: true, counts: { ...zero, waiting: 2, executing: 1, succeeded: 1, aborted: 1 } },
      { id: 'hook', manager: 'webhook', enabled: false, valid: true, counts: zero },
      { id: 'broken', manager: 'no-such-manager', enabled: true, valid: false, error: expect.stringContaining('unknown manager "no-such-manager"'), counts: zero },
      { id: 'ghost', manager: '', enabled: false, valid: false, error: 'not in the destinations file', counts: { ...zero, waiting: 1 } },
    ]);
  });

  it('destination <id> shows the config with secrets hidden', async () => {
    const result = await runCli(['destination', 'hook', '--json'], ws.env);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).not.toContain(TOKEN);
    expect(parseJson<Record<string, any>>(result).config).toMatchObject({ url: 'http://127.0.0.1:9/in', headers: '[redacted]' });
  });
});

describe('batch-router managers and usage', () => {
  it('managers --json lists the installed managers with their config fields', async () => {
    const result = await runCli(['managers', '--json'], {});
    expect(result.code, result.stderr).toBe(0);
    const managers = parseJson<Array<{ name: string; fields: Array<Record<string, unknown>> }>>(result);
    expect(managers.map((m) => m.name)).toEqual(expect.arrayContaining(['local-files', 'webhook']));
    const webhook = managers.find((m) => m.name === 'webhook')!;
    expect(webhook.fields).toContainEqual(expect.objectContaining({ name: 'url', required: true, secret: false, default: null }));
    expect(webhook.fields).toContainEqual(expect.objectContaining({ name: 'headers', secret: true, required: false }));
    for (const field of webhook.fields) expect(Object.keys(field).sort()).toEqual(['default', 'doc', 'kind', 'name', 'required', 'secret']);
  });

  it('unknown commands and options exit 2 with usage; help exits 0', async () => {
    const [unknown, badOption, help] = await Promise.all([
      runCli(['frobnicate'], {}),
      runCli(['jobs', '--bogus'], {}),
      runCli(['enqueue', '--help'], {}),
    ]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown command "frobnicate"');
    expect(unknown.stderr).toContain('usage: batch-router <command>');
    expect(badOption.code).toBe(2);
    expect(badOption.stderr).toContain("'--bogus'");
    expect(badOption.stderr).toContain('usage: batch-router jobs');
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('batch-router enqueue <destinationId>');
  });

  it('an unreachable database exits 1 and says what to check', async () => {
    const result = await runCli(['jobs'], { ...ws.env, DATABASE_URL: 'postgres://postgres@127.0.0.1:1/nothing' });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('127.0.0.1:1');
    expect(result.stderr).toContain('Check DATABASE_URL');
    expect(result.stderr).not.toMatch(/^\s+at /m);
  });
});
