/**
 * The soak's verdicts, from its samples. The rules (bench/README.md, "Soak"):
 * - throughput flat: the mean delivered/s of the last tenth of the samples is within 10% of the rate;
 * - tables bounded: the largest job-table size of the last quarter of the samples is at most
 *   1.25 × the largest of the second quarter. Retention makes the size a saw-tooth (a partition
 *   fills, then is dropped whole), so peaks are compared, not single samples; the first quarter is
 *   left out because the tables are still filling up to their first drop there.
 */
import type { SoakResult, SoakSample } from '../workloads/soak.ts';

export interface SoakSummary {
  ratePerSec: number;
  firstDecile: { deliveredPerSec: number; latencyP99Ms: number };
  lastDecile: { deliveredPerSec: number; latencyP99Ms: number };
  maxJobTableBytes: number;
  secondQuarterMaxJobTableBytes: number;
  lastQuarterMaxJobTableBytes: number;
  maxPartitions: number;
  partitionsDropped: number;
  lost: number;
  duplicates: number;
  throughputFlat: boolean;
  tablesBounded: boolean;
}

export function summarizeSoak(ratePerSec: number, result: SoakResult): SoakSummary {
  // The last sample is taken after the grace period (the tail drained, nothing enqueued): not steady state.
  const samples = result.samples.length > 1 ? result.samples.slice(0, -1) : result.samples;
  const decile = Math.max(1, Math.round(samples.length / 10));
  const quarter = Math.max(1, Math.round(samples.length / 4));
  const first = window(samples.slice(0, decile));
  const last = window(samples.slice(-decile));
  const secondQuarterMax = maxOf(samples.slice(quarter, 2 * quarter), (s) => s.jobTableBytes);
  const lastQuarterMax = maxOf(samples.slice(-quarter), (s) => s.jobTableBytes);
  return {
    ratePerSec,
    firstDecile: first,
    lastDecile: last,
    maxJobTableBytes: maxOf(result.samples, (s) => s.jobTableBytes),
    secondQuarterMaxJobTableBytes: secondQuarterMax,
    lastQuarterMaxJobTableBytes: lastQuarterMax,
    maxPartitions: maxOf(result.samples, (s) => s.partitions),
    partitionsDropped: result.partitionsDropped,
    lost: result.lost,
    duplicates: result.duplicates,
    throughputFlat: Math.abs(last.deliveredPerSec - ratePerSec) <= 0.1 * ratePerSec,
    tablesBounded: lastQuarterMax <= 1.25 * secondQuarterMax,
  };
}

export function formatSoakSummary(s: SoakSummary): string {
  const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MB`;
  const verdict = (ok: boolean) => (ok ? 'yes' : 'NO');
  const rows: [string, string][] = [
    ['rate (events/s)', String(s.ratePerSec)],
    ['delivered/s, first 10% → last 10%', `${s.firstDecile.deliveredPerSec} → ${s.lastDecile.deliveredPerSec}`],
    ['latency p99 (ms), first 10% → last 10%', `${s.firstDecile.latencyP99Ms} → ${s.lastDecile.latencyP99Ms}`],
    ['job tables, max (2nd quarter / last quarter)', `${mb(s.maxJobTableBytes)} (${mb(s.secondQuarterMaxJobTableBytes)} / ${mb(s.lastQuarterMaxJobTableBytes)})`],
    ['job partitions, max', String(s.maxPartitions)],
    ['partitions dropped', String(s.partitionsDropped)],
    ['lost / duplicates', `${s.lost} / ${s.duplicates}`],
    ['throughput flat (last 10% within 10% of rate)', verdict(s.throughputFlat)],
    ['tables bounded (last-quarter max ≤ 1.25 × second-quarter max)', verdict(s.tablesBounded)],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n');
}

/** Mean delivered/s and the worst interval's p99 over some samples. */
function window(samples: SoakSample[]): { deliveredPerSec: number; latencyP99Ms: number } {
  const deliveredPerSec = Math.round(samples.reduce((sum, s) => sum + s.deliveredPerSec, 0) / Math.max(1, samples.length));
  return { deliveredPerSec, latencyP99Ms: maxOf(samples, (s) => s.latencyP99Ms) };
}

function maxOf(samples: SoakSample[], value: (s: SoakSample) => number): number {
  return samples.reduce((max, s) => Math.max(max, value(s)), 0);
}
