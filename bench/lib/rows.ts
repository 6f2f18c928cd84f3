/**
 * Runs → rows of latest.json: one row per system and workload, each figure summarised over the
 * measured runs (median for rates, CPU and WAL; worst run for peaks; sums for dup/lost). Full
 * precision stays in the `raw` section of latest.json.
 */
import type { CliIngestRun } from '../workloads/cli-ingest.ts';
import type { HistoryTemplate } from '../workloads/history-template.ts';
import type { SteadyRunResult } from '../workloads/steady-rate.ts';
import { spread } from './report.ts';
import type { ResultRow, RunResult, Spread } from './types.ts';

const median = (values: readonly number[]): number => spread(values).median;
const per100k = (amount: number, n: number): number => (amount / n) * 100_000;
const round = (value: number, digits: number): number => Math.round(value * 10 ** digits) / 10 ** digits;
const roundSpread = (s: Spread): Spread => ({ median: round(s.median, 0), min: round(s.min, 0), max: round(s.max, 0) });
/** The median of a per-run figure that some runs could not measure: null unless every run did. */
const medianOfAll = (values: ReadonlyArray<number | null>, digits: number): number | null =>
  values.every((v): v is number => v !== null) ? round(median(values), digits) : null;

/** The end-to-end row. Peak RSS is the worst run (a peak is a capacity figure); CPU is the median. */
export function burnDownRow(system: string, results: readonly RunResult[], workload = 'W1-burn-down'): ResultRow {
  const n = results[0]!.n;
  return {
    system,
    workload,
    n,
    runs: results.length,
    jobsPerSec: roundSpread(spread(results.map((r) => r.jobsPerSec))),
    deliveryJobsPerSec: round(median(results.map((r) => r.deliveryJobsPerSec)), 0),
    peakRssMb: round(Math.max(...results.map((r) => r.consumer.peakRssMb)), 1),
    cpuSecondsPer100k: round(median(results.map((r) => per100k(r.consumer.cpuSeconds, r.n))), 2),
    pgCpuSecondsPer100k: medianOfAll(results.map((r) => (r.pgCpuSeconds === null ? null : per100k(r.pgCpuSeconds, r.n))), 2),
    duplicates: results.reduce((sum, r) => sum + r.duplicates, 0),
    lost: results.reduce((sum, r) => sum + r.lost, 0),
    walBytesPer100k: medianOfAll(results.map((r) => (r.walBytes === null ? null : per100k(r.walBytes, r.n))), 0),
  };
}

/** Events per second through the system's enqueue path, from the same runs' load phase. */
export function ingestRow(system: string, results: readonly RunResult[]): ResultRow {
  return {
    ...figuresOnly(system, 'ingest', results[0]!.n, results.length),
    jobsPerSec: roundSpread(spread(results.map((r) => r.enqueuePerSec))),
  };
}

/** W1 on top of a history of finished jobs, compared with the same invocation's plain W1. */
export function scaleRow(
  results: readonly RunResult[],
  history: HistoryTemplate,
  workload: string,
  plainMedian: number | null,
  copiedEmptyMedian: number | null,
): ResultRow {
  const row = burnDownRow('batch-router-webhook', results, workload);
  const median = spread(results.map((r) => r.jobsPerSec)).median;
  return {
    ...row,
    finishedRows: history.rows,
    finishedRowsDestination: history.destination,
    ratioToEmpty: plainMedian ? round(median / plainMedian, 2) : null,
    ratioToCopiedEmpty: copiedEmptyMedian ? round(median / copiedEmptyMedian, 2) : null,
  };
}

/** W2: delivered rate and latency at one target rate; each percentile is the median over runs. */
export function steadyRow(system: string, workload: string, results: readonly SteadyRunResult[]): ResultRow {
  const n = results[0]!.n;
  const measured = results.filter((r) => r.latency.count > 0);
  return {
    system,
    workload,
    n,
    runs: results.length,
    jobsPerSec: roundSpread(spread(results.map((r) => r.deliveredPerSec))),
    peakRssMb: round(Math.max(...results.map((r) => r.consumer.peakRssMb)), 1),
    cpuSecondsPer100k: round(median(results.map((r) => per100k(r.consumer.cpuSeconds, r.n))), 2),
    pgCpuSecondsPer100k: medianOfAll(results.map((r) => (r.pgCpuSeconds === null ? null : per100k(r.pgCpuSeconds, r.n))), 2),
    duplicates: results.reduce((sum, r) => sum + r.duplicates, 0),
    lost: results.reduce((sum, r) => sum + r.lost, 0),
    targetPerSec: results[0]!.targetPerSec,
    enqueuePerSec: round(median(results.map((r) => r.producer.perSec)), 0),
    ...(measured.length > 0
      ? {
          latencyMs: {
            p50: round(median(measured.map((r) => r.latency.p50)), 1),
            p95: round(median(measured.map((r) => r.latency.p95)), 1),
            p99: round(median(measured.map((r) => r.latency.p99)), 1),
          },
        }
      : {}),
  };
}

/** The CLI enqueue row and its read-and-parse baseline, both timed from spawn to exit. */
export function cliRows(runs: readonly CliIngestRun[]): ResultRow[] {
  const n = runs[0]!.n;
  return [
    {
      ...figuresOnly('batch-router-cli-enqueue', 'ingest-cli', n, runs.length),
      jobsPerSec: roundSpread(spread(runs.map((r) => r.n / r.cliSeconds))),
      lost: runs.reduce((sum, r) => sum + (r.n - r.jobsInDatabase), 0),
      startupSeconds: round(median(runs.map((r) => r.cliStartupSeconds)), 2),
    },
    {
      ...figuresOnly('ndjson-read-baseline (no work)', 'ingest-cli', n, runs.length),
      jobsPerSec: roundSpread(spread(runs.map((r) => r.n / r.baselineSeconds))),
      startupSeconds: round(median(runs.map((r) => r.baselineStartupSeconds)), 2),
    },
  ];
}

/** A row with a rate only: the other figures do not apply to it. */
function figuresOnly(system: string, workload: string, n: number, runs: number): ResultRow {
  return {
    system,
    workload,
    n,
    runs,
    jobsPerSec: { median: 0, min: 0, max: 0 },
    peakRssMb: null,
    cpuSecondsPer100k: null,
    pgCpuSecondsPer100k: null,
    duplicates: null,
    lost: null,
  };
}

/**
 * Sets `ratioToBestPeer` on every W1 burn-down row: its end-to-end jobs/s over the best peer's
 * (the fastest W1 row of a system marked `peer`). End to end, because a sink window of two or
 * three big requests overstates. Nothing is set when no peer ran.
 */
export function markRatioToBestPeer(rows: ResultRow[], peers: ReadonlySet<string>): void {
  const w1 = rows.filter((r) => r.workload === 'W1-burn-down');
  const best = Math.max(0, ...w1.filter((r) => peers.has(r.system)).map((r) => r.jobsPerSec.median));
  if (best === 0) return;
  for (const row of w1) row.ratioToBestPeer = round(row.jobsPerSec.median / best, 2);
}
