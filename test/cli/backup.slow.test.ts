/**
 * `batch-router backup` / `restore` as an operator runs them: a daemon (child process) delivers
 * part of the jobs of an embedded data directory, a backup is taken while it runs, restored into a
 * new data directory and loaded with psql into a fresh PostgreSQL database; job counts by state and
 * payloads must match everywhere. Slow project: every step starts a process that opens PGlite.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type DatabaseHandle } from '../../src/db/connect.ts';
import type { Database } from '../../src/db/schema.ts';
import { adminQuery, databaseUrl } from '../helpers/database.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { cliWorkspace, parseJson, runCli, startCli, type CliResult, type CliWorkspace, type RunningCli } from './cli-runner.ts';

const SERVER_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const DELIVERED = 120;
const WAITING = 80;

let ws: CliWorkspace;
let env: Record<string, string>;
let daemon: RunningCli | undefined;

interface Snapshot {
  counts: Record<string, number>;
  payloads: Record<string, string>;
}

/** Job counts by destination and state, and the payloads of a sample of jobs. */
async function snapshot(db: Kysely<Database>): Promise<Snapshot> {
  const counts = await sql<{ key: string; n: string }>`
    SELECT destination_id || '/' || state AS key, count(*) AS n FROM br_jobs GROUP BY 1 ORDER BY 1`.execute(db);
  const sample = await sql<{ id: string; payload: string }>`
    SELECT job_id AS id, payload FROM br_job_payloads WHERE job_id % 17 = 1 OR job_id = 1 ORDER BY job_id`.execute(db);
  return {
    counts: Object.fromEntries(counts.rows.map((r) => [r.key, Number(r.n)])),
    payloads: Object.fromEntries(sample.rows.map((r) => [r.id, r.payload])),
  };
}

async function withEmbedded<T>(dataDir: string, fn: (db: Kysely<Database>) => Promise<T>): Promise<T> {
  const handle: DatabaseHandle = await openDatabase({ dataDir, role: 'client', poolSize: 2 });
  try {
    return await fn(handle.db);
  } finally {
    await handle.close();
  }
}

/** One line on stderr naming the problem, no stack trace. */
function expectOneLineError(result: CliResult, code: number, text: RegExp): void {
  expect(result.code, result.stderr).toBe(code);
  expect(result.stderr).toMatch(text);
  expect(result.stderr).not.toMatch(/\n\s+at /);
}

const events = (count: number, tag: string) =>
  Array.from({ length: count }, (_, i) => JSON.stringify({ n: i, tag, text: `it's "quoted" \\ ${tag} é ✓`, nested: { list: [i, null, true] } })).join('\n');

let before: Snapshot;
const backupFile = () => join(ws.dir, 'backup.sql');

beforeAll(async () => {
  ws = cliWorkspace('', []);
  ws.file('destinations.json', JSON.stringify([
    { id: 'files', manager: 'local-files', enabled: true, config: { directory: join(ws.dir, 'out'), format: 'ndjson' } },
  ]));
  env = { ...ws.env, DATABASE_URL: '', PORT: '0' };
  daemon = startCli(['start', '--no-api'], env);
  await waitFor(() => existsSync(join(ws.env.BATCH_ROUTER_DATA_DIR!, 'embedded.json')), { timeoutMs: 60_000, message: 'the daemon to serve its embedded database' });
  const delivered = await runCli(['enqueue', 'files', '-'], env, events(DELIVERED, 'files'));
  expect(delivered.code, delivered.stderr).toBe(0);
  // Not in the destinations file: these wait, so the backup holds jobs in more than one state.
  const waiting = await runCli(['enqueue', 'later', '-', '--force'], env, events(WAITING, 'later'));
  expect(waiting.code, waiting.stderr).toBe(0);
  await waitFor(
    async () => {
      const s = await withEmbedded(ws.env.BATCH_ROUTER_DATA_DIR!, snapshot);
      return s.counts['files/succeeded'] === DELIVERED ? s : undefined;
    },
    { timeoutMs: 60_000, message: 'the daemon to deliver the first destination’s jobs' },
  );
});

afterAll(async () => {
  if (daemon && daemon.child.exitCode === null) {
    daemon.child.kill('SIGTERM');
    await daemon.exited;
  }
  ws?.cleanup();
});

describe('backup and restore of the embedded database', () => {
  it('backs up through the running daemon, atomically, and leaves its session as it was', async () => {
    const dataDir = ws.env.BATCH_ROUTER_DATA_DIR!;
    const searchPath = async (db: Kysely<Database>) => (await sql<{ search_path: string }>`SHOW search_path`.execute(db)).rows[0]!.search_path;
    const pathBefore = await withEmbedded(dataDir, searchPath);
    const result = await runCli(['backup', backupFile()], env);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('through the running daemon');
    expect(readdirSync(ws.dir).filter((name) => name.endsWith('.tmp'))).toEqual([]);
    const text = readFileSync(backupFile(), 'utf8');
    expect(text).toMatch(/^-- PostgreSQL database dump/m);
    expect(text).not.toContain('pg_attver');

    // pg_dump emptied search_path for its session; the daemon's queries must see it restored.
    await withEmbedded(dataDir, async (db) => {
      expect(await searchPath(db)).toBe(pathBefore);
      before = await snapshot(db);
    });
    expect(before.counts).toEqual({ 'files/succeeded': DELIVERED, 'later/waiting': WAITING });

    expectOneLineError(await runCli(['backup', backupFile()], env), 2, /already exists; .*--force/);
    expectOneLineError(await runCli(['restore', backupFile()], env), 1, /daemon \(pid \d+\) is using .*stop it/);
    expect((await runCli(['backup', backupFile(), '--force'], env)).code).toBe(0);
  });

  it('restores into a new data directory, refuses to overwrite it without --force, and migrates', async () => {
    const restoredEnv = { ...env, BATCH_ROUTER_DATA_DIR: join(ws.dir, 'restored') };
    const restored = await runCli(['restore', backupFile()], restoredEnv);
    expect(restored.code, restored.stderr).toBe(0);
    expect(restored.stdout).toContain('schema up to date');
    expect(await withEmbedded(restoredEnv.BATCH_ROUTER_DATA_DIR, snapshot)).toEqual(before);

    expectOneLineError(await runCli(['restore', backupFile()], restoredEnv), 2, /already holds an embedded database; .*--force/);
    const notABackup = ws.file('notes.sql', 'SELECT 1;\n');
    expectOneLineError(await runCli(['restore', notABackup], restoredEnv), 2, /is not a batch-router backup/);
    const broken = ws.file('broken.sql', `${readFileSync(backupFile(), 'utf8').split('CREATE TABLE')[0]}\nINSERT INTO public.no_such_table VALUES (1);\n`);
    expectOneLineError(await runCli(['restore', broken, '--force'], restoredEnv), 1, /loading .*broken\.sql failed: .*no_such_table.*is unchanged/);
    expect(await withEmbedded(restoredEnv.BATCH_ROUTER_DATA_DIR, snapshot)).toEqual(before);
    const forced = await runCli(['restore', backupFile(), '--force'], restoredEnv);
    expect(forced.code, forced.stderr).toBe(0);
    expect(await withEmbedded(restoredEnv.BATCH_ROUTER_DATA_DIR, snapshot)).toEqual(before);
  });

  it('backs up with no daemon running by opening the data directory itself', async () => {
    daemon!.child.kill('SIGTERM');
    expect((await daemon!.exited).code).toBe(0);
    const offline = join(ws.dir, 'offline.sql');
    const result = await runCli(['backup', offline], env);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).not.toContain('through the running daemon');
    const jobsOf = (file: string) => readFileSync(file, 'utf8').split('\n').filter((line) => line.startsWith('INSERT INTO public.br_job_payloads'));
    expect(jobsOf(offline)).toEqual(jobsOf(backupFile()));
  });

  it('moves to a PostgreSQL server: psql loads the backup, migrate --status is up to date, the jobs are there', async () => {
    const name = `br_backup_${randomBytes(4).toString('hex')}`;
    await adminQuery(SERVER_URL, `CREATE DATABASE ${name}`);
    const url = databaseUrl(SERVER_URL, name);
    try {
      execFileSync('psql', ['-X', '-q', '--single-transaction', '-v', 'ON_ERROR_STOP=1', '-d', url, '-f', backupFile()], { stdio: ['ignore', 'ignore', 'pipe'] });
      const serverEnv = { ...env, DATABASE_URL: url };
      const status = await runCli(['migrate', '--status', '--json'], serverEnv);
      expect(status.code, status.stderr).toBe(0);
      const migrations = parseJson<Array<{ executedAt: string | null }>>(status);
      expect(migrations.length).toBeGreaterThan(0);
      expect(migrations.filter((m) => m.executedAt === null)).toEqual([]);
      const handle = await openDatabase({ databaseUrl: url, dataDir: ws.dir, role: 'client', poolSize: 1 });
      try {
        expect(await snapshot(handle.db)).toEqual(before);
        const uploads = await sql<{ n: string }>`SELECT count(*) AS n FROM br_uploads`.execute(handle.db);
        expect(Number(uploads.rows[0]!.n)).toBeGreaterThan(0);
      } finally {
        await handle.close();
      }
      // New ids continue after the old ones: the sequences came along.
      const more = await runCli(['enqueue', 'files', '-', '--json'], serverEnv, events(1, 'after'));
      expect(more.code, more.stderr).toBe(0);
      expect(Number(parseJson<{ ranges: Array<{ first: string }> }>(more).ranges[0]!.first)).toBeGreaterThan(DELIVERED + WAITING);
    } finally {
      await adminQuery(SERVER_URL, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    }
  });
});
