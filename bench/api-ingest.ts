/**
 * The ingest rows of `npm run bench`: events per second accepted through `POST /events` in
 * batches of 1,000, next to a bare fastify route doing no work, measured in the same run with the
 * same client. Each server runs in its own process (bench/api-ingest-server.ts) and the client
 * here keeps `concurrency` requests in flight; request bodies are serialised before the clock
 * starts, so the client's own cost is only HTTP.
 *
 *   node --import tsx bench/api-ingest.ts [--n 100000] [--runs 3]      standalone, prints the table
 *   import { runApiIngest } from './api-ingest.ts'                     from bench/run.ts: rows to add
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createFreshDatabase, DEFAULT_DATABASE_URL } from './lib/pg.ts';
import { spread } from './lib/report.ts';
import { formatTable } from './lib/table.ts';
import type { ResultRow } from './lib/types.ts';
import { makeEvents } from './workloads/events.ts';

const SERVER = fileURLToPath(new URL('./api-ingest-server.ts', import.meta.url));
export const INGEST_BATCH = 1000;

export interface ApiIngestOptions {
  adminUrl: string;
  /** Events per measured run (rounded up to whole batches). */
  n: number;
  runs: number;
  /** Requests in flight at once. */
  concurrency?: number;
  /** The API on the embedded database (a fresh data directory per run) instead of PostgreSQL. */
  embedded?: boolean;
  progress?: (line: string) => void;
}

async function startServer(args: string[]): Promise<{ url: string; stop(): Promise<void> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', SERVER, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const match = /^ready (\S+)$/m.exec(output);
      if (match) resolve(match[1]!);
    });
    child.once('exit', (code) => reject(new Error(`ingest server exited with ${code} before it was ready: ${output}`)));
  });
  return {
    url,
    async stop() {
      child.kill('SIGTERM');
      if (child.exitCode === null) await once(child, 'exit');
    },
  };
}

/** Sends every body once, `concurrency` at a time; returns events per second. */
async function blast(url: string, bodies: readonly string[], concurrency: number): Promise<number> {
  let next = 0;
  const started = process.hrtime.bigint();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < bodies.length) {
      const body = bodies[next++]!;
      const res = await fetch(`${url}/v1/destinations/bench/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      if (res.status !== 202) throw new Error(`ingest answered ${res.status}: ${(await res.text()).slice(0, 300)}`);
      await res.arrayBuffer();
    }
  }));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return (bodies.length * INGEST_BATCH) / seconds;
}

function bodiesFor(n: number, tag: string): string[] {
  const events = makeEvents(Math.ceil(n / INGEST_BATCH) * INGEST_BATCH, tag);
  const bodies: string[] = [];
  for (let i = 0; i < events.length; i += INGEST_BATCH) bodies.push(`{"events":[${events.slice(i, i + INGEST_BATCH).join(',')}]}`);
  return bodies;
}

/** A data directory for the embedded API run, as `{ url, drop }` like a fresh PostgreSQL database. */
async function freshDataDir(): Promise<{ url: string; drop(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'batch-router-bench-api-'));
  return { url: dir, drop: () => rm(dir, { recursive: true, force: true }) };
}

function row(system: string, n: number, rates: number[]): ResultRow {
  const s = spread(rates);
  const round = (v: number) => Math.round(v);
  return { system, workload: 'ingest-http', n, runs: rates.length, jobsPerSec: { median: round(s.median), min: round(s.min), max: round(s.max) },
    peakRssMb: null, cpuSecondsPer100k: null, pgCpuSecondsPer100k: null, duplicates: null, lost: null };
}

/** Measures both systems, alternating runs so drift (cache, load) hits both alike. */
export async function runApiIngest(options: ApiIngestOptions): Promise<ResultRow[]> {
  const concurrency = options.concurrency ?? 4;
  const progress = options.progress ?? (() => {});
  const bare = await startServer(['bare']);
  const rates = { api: [] as number[], bare: [] as number[] };
  try {
    const warmup = bodiesFor(5 * INGEST_BATCH, 'warm');
    await blast(bare.url, warmup, concurrency);
    for (let run = 1; run <= options.runs; run++) {
      const bodies = bodiesFor(options.n, `run${run}`);
      // A fresh database per run, like the burn-down rows: no run inherits another's bloat.
      const database = options.embedded ? await freshDataDir() : await createFreshDatabase(options.adminUrl);
      const api = await startServer(options.embedded ? ['api-embedded', database.url] : ['api', database.url]);
      try {
        await blast(api.url, warmup, concurrency);
        rates.api.push(await blast(api.url, bodies, concurrency));
        rates.bare.push(await blast(bare.url, bodies, concurrency));
      } finally {
        await api.stop();
        await database.drop();
      }
      progress(`api ingest${options.embedded ? ' (embedded)' : ''} run ${run}/${options.runs}: POST /events ${Math.round(rates.api.at(-1)!)} events/s, bare fastify ${Math.round(rates.bare.at(-1)!)} events/s`);
    }
  } finally {
    await bare.stop();
  }
  const n = Math.ceil(options.n / INGEST_BATCH) * INGEST_BATCH;
  const api = row(`batch-router-api POST /events${options.embedded ? ' (embedded)' : ''}`, n, rates.api);
  return [api, row('fastify bare route (no work)', n, rates.bare)];
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { n: { type: 'string', default: '100000' }, runs: { type: 'string', default: '3' } } });
  const rows = await runApiIngest({
    adminUrl: process.env.DATABASE_URL || DEFAULT_DATABASE_URL,
    n: Number(values.n),
    runs: Number(values.runs),
    progress: (line) => process.stderr.write(`${line}\n`),
  });
  process.stdout.write(`${formatTable(rows)}\n`);
}
