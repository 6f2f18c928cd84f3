/**
 * `npm run bench`: throughput of batch-router against a local PostgreSQL, written to
 * bench/results/latest.json and printed as a table (stdout; progress goes to stderr).
 *
 *   npm run bench                      warm-up, then 3 runs of N = 100,000
 *   npm run bench -- --quick           warm-up, then 1 run of N = 20,000
 *   npm run bench -- --n 50000 --runs 5
 *   npm run bench -- --tuning '{"maxEventsPerUpload":5000}'   explore; results note the override
 *
 * DATABASE_URL names a server and a database we may connect to for CREATE DATABASE (default
 * postgres://postgres@127.0.0.1:5432/test); every run gets its own bench_<random> database.
 * See bench/README.md for what is measured and why the settings are fair.
 */
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { DEFAULT_DATABASE_URL, serverVersion } from './lib/pg.ts';
import { burnDownRow, formatTable, ingestRow, machine, versions, writeResults } from './lib/report.ts';
import type { BurnDownSystem, ResultRow, RunResult } from './lib/types.ts';
import { batchRouterMarketo } from './systems/batch-router-marketo.ts';
import { batchRouterWebhook } from './systems/batch-router-webhook.ts';
import { graphileWorker } from './systems/graphile-worker.ts';
import { pgBoss } from './systems/pg-boss.ts';
import { sqlFloor } from './systems/sql-floor.ts';
import { runBurnDown, type BurnDownOptions } from './workloads/burn-down.ts';
import { EVENT_BYTES } from './workloads/events.ts';
import { runApiIngest } from './api-ingest.ts';

const RESULTS_FILE = fileURLToPath(new URL('./results/latest.json', import.meta.url));

const { values: flags } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    n: { type: 'string' },
    runs: { type: 'string' },
    warmup: { type: 'string' },
    tuning: { type: 'string' },
    out: { type: 'string' },
    'skip-api': { type: 'boolean', default: false },
    systems: { type: 'string' },
    w3: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (flags.help) {
  process.stdout.write('usage: npm run bench -- [--quick] [--n N] [--runs R] [--warmup N] [--tuning JSON] [--out FILE] [--skip-api] [--systems a,b,...] [--w3]\n');
  process.exit(0);
}

function positive(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const parsed = Number(value.replace(/_/g, ''));
  if (!Number.isSafeInteger(parsed) || parsed < 0) throw new Error(`--${name} must be a whole number, got "${value}"`);
  return parsed;
}

const n = positive('n', flags.n, flags.quick ? 20_000 : 100_000);
const runs = Math.max(1, positive('runs', flags.runs, flags.quick ? 1 : 3));
// Big enough to warm PostgreSQL's caches and the OS page cache, small enough to cost seconds.
const warmupN = positive('warmup', flags.warmup, Math.min(10_000, Math.max(1_000, Math.floor(n / 10))));
const tuningOverrides = flags.tuning ? (JSON.parse(flags.tuning) as Record<string, number>) : {};
const adminUrl = process.env.DATABASE_URL || DEFAULT_DATABASE_URL;

const progress = (line: string) => process.stderr.write(`${line}\n`);
const workloadOptions: Omit<BurnDownOptions, 'n'> = {
  adminUrl,
  enqueueBatch: 5_000,
  pollMs: 100,
  stallTimeoutMs: 120_000,
  progress,
};

// The systems measured; `--systems a,b` keeps only those (names as in the table).
// --tuning applies to batch-router-webhook only: it is the system being tuned.
const allSystems: BurnDownSystem[] = [
  batchRouterWebhook(tuningOverrides),
  batchRouterMarketo(),
  sqlFloor(),
  pgBoss(),
  graphileWorker(),
];
const wanted = flags.systems?.split(',').map((s) => s.trim()).filter(Boolean);
const unknown = wanted?.filter((name) => !allSystems.some((s) => s.name === name)) ?? [];
if (unknown.length > 0) throw new Error(`unknown system(s): ${unknown.join(', ')}; known: ${allSystems.map((s) => s.name).join(', ')}`);
const systems = wanted ? allSystems.filter((s) => wanted.includes(s.name)) : allSystems;

// Taken before the first run: the load average must describe the machine we started on, not ours.
const machineInfo = machine(await serverVersion(adminUrl));
const startedAt = new Date();
const rows: ResultRow[] = [];
const raw: Array<{ system: string; workload: string; runs: RunResult[] }> = [];
// Warm-ups first, then the measured runs interleaved (A B C A B C ...): drift on a shared machine
// (other load, thermal state, page cache) spreads over every system instead of favouring one.
for (const system of systems) {
  if (warmupN > 0) {
    progress(`${system.name}: warm-up, n=${warmupN}`);
    await runBurnDown(system, { ...workloadOptions, n: warmupN });
  }
}
const results = new Map<string, RunResult[]>(systems.map((s) => [s.name, []]));
for (let run = 1; run <= runs; run++) {
  for (const system of systems) {
    progress(`${system.name}: run ${run}/${runs}, n=${n}`);
    const result = await runBurnDown(system, { ...workloadOptions, n });
    progress(
      `  ${Math.round(result.jobsPerSec)} jobs/s (${result.elapsedSeconds.toFixed(2)} s), ` +
        `consumer ${result.consumer.cpuSeconds.toFixed(1)} CPU s, peak RSS ${result.consumer.peakRssMb.toFixed(0)} MB ` +
        `(${result.consumer.peakRssAtStartMb.toFixed(0)} before start), ` +
        `sink ${result.sink.cpuSeconds.toFixed(1)} CPU s, postgres ${result.pgCpuSeconds?.toFixed(1) ?? '?'} CPU s, ` +
        `dup ${result.duplicates}, lost ${result.lost}, final ${result.finalJobs}, load ${result.loadAverage}`,
    );
    results.get(system.name)!.push(result);
  }
}
// W3: the same burn-down with 10% of the sink's answers 500, each system retrying by its own
// policy (1 s first retry where configurable). The Marketo fake has no failure knob: not run.
const w3Systems = flags.w3 ? systems.filter((s) => s.name !== 'batch-router-marketo') : [];
const w3Results = new Map<string, RunResult[]>(w3Systems.map((s) => [s.name, []]));
for (let run = 1; run <= runs; run++) {
  for (const system of w3Systems) {
    progress(`${system.name}: W3 run ${run}/${runs}, n=${n}, 10% of sink answers 500`);
    const result = await runBurnDown(system, { ...workloadOptions, n, sinkFailFraction: 0.1 });
    progress(`  ${Math.round(result.jobsPerSec)} jobs/s (${result.elapsedSeconds.toFixed(2)} s), dup ${result.duplicates}, lost ${result.lost}, ${result.sinkRejected} requests answered 500`);
    w3Results.get(system.name)!.push(result);
  }
}
for (const system of systems) {
  const systemResults = results.get(system.name)!;
  rows.push(burnDownRow(system.name, systemResults), ingestRow(system.ingestName, systemResults));
  raw.push({ system: system.name, workload: 'W1-burn-down', runs: systemResults });
}
for (const system of w3Systems) {
  rows.push(burnDownRow(system.name, w3Results.get(system.name)!, 'W3-failures-10pct'));
  raw.push({ system: system.name, workload: 'W3-failures-10pct', runs: w3Results.get(system.name)! });
}

// Ingest through the HTTP API, next to a bare fastify route doing no work, in the same run.
if (!flags['skip-api']) {
  rows.push(...(await runApiIngest({ adminUrl, n, runs, progress })));
}

const table = formatTable(rows);
process.stdout.write(`\n${table}\n`);
const out = flags.out ?? RESULTS_FILE;
await writeResults(out, {
  startedAt: startedAt.toISOString(),
  machine: machineInfo,
  versions: await versions(),
  settings: {
    n,
    runs,
    warmupN,
    eventBytes: EVENT_BYTES,
    enqueueBatch: workloadOptions.enqueueBatch,
    completionPollMs: workloadOptions.pollMs,
    freshDatabasePerRun: true,
    tuningOverrides,
    systems: Object.fromEntries(systems.map((s) => [s.name, s.settings])),
  },
  rows,
  raw,
});
progress(`results written to ${out}`);

const failed = rows.some((r) => (r.lost ?? 0) > 0 || (r.duplicates ?? 0) > 0);
if (failed) progress('WARNING: some jobs were lost or delivered twice; see the table');
