/**
 * `npm run bench`: batch-router against a local PostgreSQL, side by side with pg-boss,
 * graphile-worker and the raw SQL floor, written to bench/results/latest.json and printed as
 * tables (stdout; progress goes to stderr).
 *
 *   npm run bench                      everything at full size (~25 min)
 *   npm run bench -- --quick           everything at small sizes, 1 round (< 3 min)
 *   npm run bench -- --help            every flag (sizes, --skip-*, --systems, --out)
 *   npm run bench -- --soak --help     the soak: a fixed rate for an hour, retention on
 *
 * Sections, in order: W1 burn-down (with the scale runs interleaved) and W3 if asked for, W2
 * steady rate, memory with a 1M backlog, CLI ingest, HTTP API ingest.
 *
 * DATABASE_URL names a server and a database we may connect to for CREATE DATABASE (default
 * postgres://postgres@127.0.0.1:5432/test); every run gets its own bench_<random> database.
 * See bench/README.md for what is measured and why the settings are fair.
 */
import { fileURLToPath } from 'node:url';
import { readSettings, USAGE } from './lib/flags.ts';
import { DEFAULT_DATABASE_URL, serverVersion } from './lib/pg.ts';
import { machine, versions, writeResults } from './lib/report.ts';
import { formatTables } from './lib/table.ts';
import type { BurnDownSystem, PhaseResult } from './lib/types.ts';
import { runBurnDownRounds } from './phases/burn-down-rounds.ts';
import { runCliRounds } from './phases/cli-ingest-rounds.ts';
import { runMemory } from './phases/memory.ts';
import { runIdle } from './phases/idle.ts';
import { runSteadyRateRounds, STEADY_RATE_SYSTEMS } from './phases/steady-rate-rounds.ts';
import { comparedSystems } from './lib/compared-systems.ts';
import { COMPLETION_POLL_MS, type BurnDownOptions } from './workloads/burn-down.ts';
import { EVENT_BYTES } from './workloads/events.ts';
import { runApiIngest } from './api-ingest.ts';
import { runEmbeddedRounds } from './phases/embedded.ts';

const RESULTS_FILE = fileURLToPath(new URL('./results/latest.json', import.meta.url));
const SWEEP_FILE = fileURLToPath(new URL('./results/sweep.json', import.meta.url));

// `--sweep` is its own command (bench/sweep.ts): every peer over a grid of settings, nothing else.
if (process.argv.includes('--sweep')) {
  await import('./sweep.ts');
  process.exit(0);
}

// `--soak` too (bench/soak.ts): one long run at a fixed rate with retention on.
if (process.argv.includes('--soak')) {
  await import('./soak.ts');
  process.exit(process.exitCode ?? 0);
}

const settings = readSettings();
if (settings === 'help') {
  process.stdout.write(USAGE);
  process.exit(0);
}
const adminUrl = process.env.DATABASE_URL || DEFAULT_DATABASE_URL;
const progress = (line: string) => process.stderr.write(`${line}\n`);
const workloadOptions: Omit<BurnDownOptions, 'n'> = {
  adminUrl,
  enqueueBatch: 5_000,
  pollMs: COMPLETION_POLL_MS,
  stallTimeoutMs: 120_000,
  progress,
};

// The systems measured; `--systems a,b` keeps only those (names as in the table).
// --tuning applies to batch-router-webhook only: it is the system being tuned. The peers run at
// their best setting of the latest sweep (`npm run bench -- --sweep`) and at equal batch size.
const allSystems: BurnDownSystem[] = await comparedSystems(SWEEP_FILE, settings.tuningOverrides);
const unknown = settings.systems?.filter((name) => !allSystems.some((s) => s.name === name)) ?? [];
if (unknown.length > 0) throw new Error(`unknown system(s): ${unknown.join(', ')}; known: ${allSystems.map((s) => s.name).join(', ')}`);
const systems = settings.systems ? allSystems.filter((s) => settings.systems!.includes(s.name)) : allSystems;
// Scale, memory and CLI ingest measure batch-router alone: they run when it is among the systems.
const batchRouter = systems.find((s) => s.name === 'batch-router-webhook');

// Taken before the first run: the load average must describe the machine we started on, not ours.
const machineInfo = machine(settings.embeddedOnly ? 'none (embedded only)' : await serverVersion(adminUrl));
const startedAt = new Date();
const phases: PhaseResult[] = [];
if (!settings.embeddedOnly) {
  phases.push(await runBurnDownRounds(systems, settings, workloadOptions));
  phases.push(await runSteadyRateRounds(systems, settings, { adminUrl, progress }));
  if (batchRouter && settings.memory) phases.push(await runMemory(batchRouter, settings.memory.backlog, workloadOptions));
  if (batchRouter && settings.idle) phases.push(await runIdle(settings.idle.seconds, { adminUrl, progress }));
  if (batchRouter && settings.cli) phases.push(await runCliRounds(settings, { adminUrl, progress }));
  // Ingest through the HTTP API, next to a bare fastify route doing no work, in the same run.
  if (settings.api) phases.push({ rows: await runApiIngest({ adminUrl, n: settings.n, runs: settings.runs, progress }), raw: [] });
}
// The embedded database (PGlite, no DATABASE_URL): the default a new user meets.
if (settings.embedded) {
  phases.push(await runEmbeddedRounds(settings, progress));
  if (settings.api) {
    const [api] = await runApiIngest({ adminUrl, n: settings.n, runs: settings.runs, progress, embedded: true });
    phases.push({ rows: [api!], raw: [] });
  }
}

const rows = phases.flatMap((p) => p.rows);
process.stdout.write(`\n${formatTables(rows)}\n`);
const out = settings.out ?? RESULTS_FILE;
await writeResults(out, {
  startedAt: startedAt.toISOString(),
  machine: machineInfo,
  versions: await versions(),
  settings: {
    n: settings.n,
    runs: settings.runs,
    warmupN: settings.warmupN,
    quick: settings.quick,
    eventBytes: EVENT_BYTES,
    enqueueBatch: workloadOptions.enqueueBatch,
    completionPollMs: workloadOptions.pollMs,
    freshDatabasePerRun: true,
    tuningOverrides: settings.tuningOverrides,
    w3: settings.w3,
    w2: settings.w2 ? { ...settings.w2, systems: STEADY_RATE_SYSTEMS.filter((name) => systems.some((s) => s.name === name)) } : null,
    scale: batchRouter ? settings.scale : null,
    memory: batchRouter ? settings.memory : null,
    idle: batchRouter ? settings.idle : null,
    cliIngest: batchRouter !== undefined && settings.cli,
    apiIngest: settings.api,
    embedded: settings.embedded,
    embeddedOnly: settings.embeddedOnly,
    systems: Object.fromEntries(systems.map((s) => [s.name, s.settings])),
  },
  rows,
  raw: phases.flatMap((p) => p.raw),
});
progress(`results written to ${out} (${Math.round((Date.now() - startedAt.getTime()) / 1000)} s)`);

const failed = rows.some((r) => (r.lost ?? 0) > 0 || (r.duplicates ?? 0) > 0);
if (failed) progress('WARNING: some jobs were lost or delivered twice (W2: not delivered within the grace period); see the tables');
