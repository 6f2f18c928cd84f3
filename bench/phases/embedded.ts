/**
 * The embedded-database section of `npm run bench` (workloads/embedded.ts): CLI ingest without and
 * with a daemon, in-process ingest and W1, alternating within each round; HTTP API ingest on the
 * embedded database runs in api-ingest.ts with `embedded: true`.
 */
import type { BenchSettings } from '../lib/flags.ts';
import { spread } from '../lib/report.ts';
import type { PhaseResult, ResultRow } from '../lib/types.ts';
import { runEmbeddedBurnDown, runEmbeddedCliIngest, type EmbeddedBurnDownRun, type EmbeddedCliRun } from '../workloads/embedded.ts';

const round = (value: number, digits = 0): number => Math.round(value * 10 ** digits) / 10 ** digits;
const rates = (values: number[]) => {
  const s = spread(values);
  return { median: round(s.median), min: round(s.min), max: round(s.max) };
};

export async function runEmbeddedRounds(settings: BenchSettings, progress: (line: string) => void): Promise<PhaseResult> {
  const cli: EmbeddedCliRun[] = [];
  const w1: EmbeddedBurnDownRun[] = [];
  for (let round = 1; round <= settings.runs; round++) {
    for (const served of [false, true]) {
      const result = await runEmbeddedCliIngest({ n: settings.n, tag: `ecli${round}${served ? 's' : ''}`, served });
      cli.push(result);
      const cpu = result.cpuSeconds === null ? '' : `, ${result.cpuSeconds.toFixed(1)} CPU s`;
      progress(`embedded cli ingest ${served ? 'with a daemon serving' : 'without a daemon'} run ${round}/${settings.runs}: ` +
        `${Math.round(result.n / result.seconds)} events/s (${result.seconds.toFixed(2)} s${cpu})`);
    }
    const burnDown = await runEmbeddedBurnDown({ n: settings.n, tag: `ew1${round}`, progress });
    w1.push(burnDown);
    progress(`embedded W1 run ${round}/${settings.runs}: ${Math.round(burnDown.n / burnDown.elapsedSeconds)} jobs/s ` +
      `(${burnDown.elapsedSeconds.toFixed(2)} s, daemon ${burnDown.daemon.cpuSeconds.toFixed(1)} CPU s), load ${burnDown.loadAverage}`);
  }
  return {
    rows: [...cliRows(cli), ...burnDownRows(w1)],
    raw: [
      { system: 'batch-router-cli-enqueue (embedded)', workload: 'ingest-cli', runs: cli },
      { system: 'batch-router-webhook (embedded)', workload: 'W1-burn-down', runs: w1 },
    ],
  };
}

function cliRows(runs: readonly EmbeddedCliRun[]): ResultRow[] {
  return [false, true].map((served) => {
    const mine = runs.filter((r) => r.served === served);
    return {
      ...rateOnly(`batch-router-cli-enqueue (embedded, ${served ? 'daemon serving' : 'no daemon'})`, 'ingest-cli', mine[0]!.n, mine.length),
      jobsPerSec: rates(mine.map((r) => r.n / r.seconds)),
      cpuSecondsPer100k: mine.every((r) => r.cpuSeconds !== null)
        ? round(spread(mine.map((r) => (r.cpuSeconds! / r.n) * 100_000)).median, 2)
        : null,
      lost: mine.reduce((sum, r) => sum + (r.n - r.jobsInDatabase), 0),
      setting: served ? 'CPU s: CLI + daemon (whole life)' : 'CPU s: CLI, PGlite inside it',
    };
  });
}

function burnDownRows(runs: readonly EmbeddedBurnDownRun[]): ResultRow[] {
  const n = runs[0]!.n;
  const median = (values: number[]) => spread(values).median;
  return [
    { ...rateOnly('batch-router-enqueue (embedded, insertJobs in-process)', 'ingest', n, runs.length), jobsPerSec: rates(runs.map((r) => r.n / r.enqueueSeconds)) },
    {
      system: 'batch-router-webhook (embedded)',
      workload: 'W1-burn-down',
      n,
      runs: runs.length,
      jobsPerSec: rates(runs.map((r) => r.n / r.elapsedSeconds)),
      deliveryJobsPerSec: round(median(runs.map((r) => r.n / r.deliverySeconds))),
      peakRssMb: round(Math.max(...runs.map((r) => r.daemon.peakRssMb)), 1),
      // PGlite runs inside the daemon: its CPU is in this figure, and there is no server CPU.
      cpuSecondsPer100k: round(median(runs.map((r) => (r.daemon.cpuSeconds / r.n) * 100_000)), 2),
      pgCpuSecondsPer100k: null,
      duplicates: runs.reduce((sum, r) => sum + r.duplicates, 0),
      lost: runs.reduce((sum, r) => sum + r.lost, 0),
      setting: 'PGlite inside the daemon (CPU s includes it)',
    },
  ];
}

function rateOnly(system: string, workload: string, n: number, runs: number): ResultRow {
  return { system, workload, n, runs, jobsPerSec: { median: 0, min: 0, max: 0 }, peakRssMb: null, cpuSecondsPer100k: null, pgCpuSecondsPer100k: null, duplicates: null, lost: null };
}
