/**
 * The embedded database (PGlite behind batch-router's own wire server, no DATABASE_URL) under the
 * same workloads as PostgreSQL, each run in a fresh data directory:
 *
 * - CLI ingest: `batch-router enqueue` of an NDJSON file, timed from spawn to exit, either with no
 *   daemon (the CLI opens the data directory itself) or with a daemon serving it (the CLI is a
 *   client of the daemon's embedded server, as after `npm start`).
 * - W1: a backlog enqueued with `insertJobs` in batches of 5,000 in this process (the ingest
 *   figure: the API's and the library's path, without HTTP), then the daemon
 *   (bench/daemon-process.ts) started on the directory and timed until the sink has every id.
 *   The daemon's CPU includes PGlite's, which runs inside it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import { openDatabase, type DatabaseHandle } from '../../src/db/connect.ts';
import { findLiveDaemon } from '../../src/db/embedded.ts';
import { migrateToLatest } from '../../src/db/migrate.ts';
import { insertJobs } from '../../src/store/jobs.repository.ts';
import { spawnBenchChild, type BenchChild, type ProcessStats } from '../lib/child.ts';
import type { SinkReport } from '../sink-process.ts';
import { DAEMON_ENV, DESTINATION_ID, FROZEN_TUNING } from '../systems/batch-router-webhook.ts';
import { makeEvents } from './events.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = join(ROOT, 'bin/batch-router.js');
/** No DATABASE_URL: an empty value reads as unset, whatever the runner's environment has. */
const EMBEDDED_ENV = { DATABASE_URL: '', LOG_LEVEL: 'warn' };

export interface EmbeddedCliRun {
  n: number;
  served: boolean;
  seconds: number;
  /**
   * CPU seconds of the CLI process, plus the serving daemon's over its whole life (start-up and
   * shutdown included) when there is one; null where /proc is missing. Unlike the wall time, this
   * does not depend on what else the machine is doing.
   */
  cpuSeconds: number | null;
  jobsInDatabase: number;
}

export interface EmbeddedBurnDownRun {
  n: number;
  enqueueSeconds: number;
  elapsedSeconds: number;
  deliverySeconds: number;
  daemon: ProcessStats;
  duplicates: number;
  lost: number;
  loadAverage: number;
}

/** A fresh, migrated data directory; `use` runs with it, the directory is removed after. */
async function withDataDir<T>(use: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'batch-router-bench-embedded-'));
  try {
    await withDatabase(dir, (database) => migrateToLatest(database.db));
    return await use(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The directory's database: in this process, or through its daemon when one serves it. */
async function withDatabase<T>(dataDir: string, use: (database: DatabaseHandle) => Promise<T>): Promise<T> {
  const database = await openDatabase({ dataDir, role: 'client', poolSize: 2 });
  try {
    return await use(database);
  } finally {
    await database.close();
  }
}

async function countJobs(database: DatabaseHandle): Promise<number> {
  const { rows } = await sql<{ n: string }>`SELECT count(*) AS n FROM br_jobs`.execute(database.db);
  return Number(rows[0]!.n);
}

/** `batch-router enqueue` of n events into a fresh directory, with or without a daemon serving it. */
export async function runEmbeddedCliIngest(options: { n: number; tag: string; served: boolean }): Promise<EmbeddedCliRun> {
  return withDataDir(async (dataDir) => {
    const file = join(dataDir, 'events.ndjson');
    await writeFile(file, `${makeEvents(options.n, options.tag).join('\n')}\n`);
    const env = { ...process.env, ...EMBEDDED_ENV, BATCH_ROUTER_DATA_DIR: dataDir, BATCH_ROUTER_DESTINATIONS_FILE: join(dataDir, 'none.json') };
    const cpuBefore = childrenCpuSeconds();
    const daemon = options.served ? await startServingDaemon(env, dataDir) : undefined;
    let seconds: number;
    try {
      const started = performance.now();
      await run(CLI, ['enqueue', DESTINATION_ID, file, '--force', '--json'], env);
      seconds = (performance.now() - started) / 1000;
    } finally {
      if (daemon) await stopProcess(daemon);
    }
    const cpuAfter = childrenCpuSeconds();
    const jobsInDatabase = await withDatabase(dataDir, countJobs);
    const cpuSeconds = cpuBefore === null || cpuAfter === null ? null : cpuAfter - cpuBefore;
    return { n: options.n, served: options.served, seconds, cpuSeconds, jobsInDatabase };
  });
}

/** `batch-router start --no-api` on the directory, once its embedded server accepts connections. */
async function startServingDaemon(env: NodeJS.ProcessEnv, dataDir: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [CLI, 'start', '--no-api'], { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'inherit'] });
  const deadline = Date.now() + 60_000;
  while (!(await findLiveDaemon(dataDir))) {
    if (child.exitCode !== null) throw new Error(`batch-router start exited with ${child.exitCode}`);
    if (Date.now() > deadline) throw new Error('batch-router start did not serve the embedded database within 60 s');
    await sleep(50);
  }
  return child;
}

/**
 * User + system CPU seconds of this process's children that have exited and been waited for
 * (cutime + cstime of /proc/self/stat, in clock ticks of 1/100 s on Linux); null elsewhere.
 */
function childrenCpuSeconds(): number | null {
  try {
    // The command name (2nd field) is in parentheses and may hold spaces: count from after it.
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[13]) + Number(fields[14])) / 100;
  } catch {
    return null;
  }
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  await exited;
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [command, ...args], { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${args[0]} exited with ${code}: ${stderr.slice(-500)}`))));
  });
}

/** W1 on the embedded database: enqueue n jobs, start the daemon, time until the sink has them all. */
export async function runEmbeddedBurnDown(options: { n: number; tag: string; progress: (line: string) => void }): Promise<EmbeddedBurnDownRun> {
  const { n } = options;
  return withDataDir(async (dataDir) => {
    const events = makeEvents(n, options.tag);
    const enqueueSeconds = await withDatabase(dataDir, async (database) => {
      const started = performance.now();
      for (let i = 0; i < n; i += 5_000) await insertJobs(database.db, DESTINATION_ID, events.slice(i, i + 5_000));
      return (performance.now() - started) / 1000;
    });
    options.progress(`embedded: enqueued ${n} in ${enqueueSeconds.toFixed(2)} s (${Math.round(n / enqueueSeconds)}/s)`);
    let sink: BenchChild<{ url: string }> | undefined;
    let daemon: BenchChild<unknown> | undefined;
    try {
      sink = await spawnBenchChild<{ url: string }>('sink-process.ts', {});
      daemon = await spawnBenchChild('daemon-process.ts', {
        ...DAEMON_ENV,
        ...EMBEDDED_ENV,
        BENCH_SINK_URL: sink.ready.url,
        BENCH_WORK_DIR: dataDir,
        BENCH_DESTINATION_ID: DESTINATION_ID,
        BENCH_TUNING: JSON.stringify(FROZEN_TUNING),
      }, process.env.BENCH_DAEMON_NODE_OPTIONS?.split(/\s+/).filter(Boolean) ?? []);
      await sink.request('mark');
      const started = performance.now();
      await daemon.request('start');
      const delivered = await waitForSink(sink, n);
      const last = { at: await waitForFinalStates(dataDir), report: delivered.report };
      const elapsedSeconds = (last.at - started) / 1000;
      const { firstDeliveryAt, lastDeliveryAt } = last.report;
      const window = firstDeliveryAt !== null && lastDeliveryAt !== null && lastDeliveryAt > firstDeliveryAt ? (lastDeliveryAt - firstDeliveryAt) / 1000 : null;
      const stats = await daemon.request<ProcessStats>('stats');
      return {
        n,
        enqueueSeconds,
        elapsedSeconds,
        deliverySeconds: window ?? elapsedSeconds,
        daemon: stats,
        duplicates: last.report.duplicates,
        lost: n - last.report.unique,
        loadAverage: Math.round(loadavg()[0]! * 100) / 100,
      };
    } finally {
      await daemon?.stop().catch(() => undefined);
      await sink?.stop().catch(() => undefined);
    }
  });
}

/**
 * When no job is open any more, asked through the daemon's server only once the sink has every id
 * (as the PostgreSQL W1 does), so the harness does not share the session while the clock runs.
 */
async function waitForFinalStates(dataDir: string): Promise<number> {
  return withDatabase(dataDir, async (database) => {
    for (;;) {
      const { rows } = await sql<{ open: boolean }>`
        SELECT EXISTS (SELECT 1 FROM br_jobs WHERE state IN ('waiting', 'executing', 'importing')) AS open`.execute(database.db);
      if (!rows[0]!.open) return performance.now();
      await sleep(100);
    }
  });
}

/** Until the sink has every id. */
async function waitForSink(sink: BenchChild<{ url: string }>, n: number): Promise<{ at: number; report: SinkReport }> {
  let lastUnique = -1;
  let lastProgress = performance.now();
  for (;;) {
    await sleep(100);
    const report = await sink.request<SinkReport>('stats');
    const now = performance.now();
    if (report.unique >= n) return { at: now, report };
    if (report.unique !== lastUnique) [lastUnique, lastProgress] = [report.unique, now];
    if (now - lastProgress > 120_000) throw new Error(`embedded W1: no progress for 120 s, sink has ${report.unique}/${n}`);
  }
}
