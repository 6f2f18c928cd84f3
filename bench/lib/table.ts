/**
 * The printed results: Markdown tables, readable in a terminal and pasteable into
 * bench/README.md as they are. W2 rows (latency) get a table of their own, because their columns
 * (target rate, percentiles) mean nothing for a burn-down and the burn-down table is wide already.
 */
import type { ResultRow } from './types.ts';

const fmt = (value: number | null | undefined, digits = 0): string =>
  value === null || value === undefined
    ? '—'
    : value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

const isSteady = (row: ResultRow): boolean => row.targetPerSec !== undefined;

/** Every table the rows call for, separated by a blank line. */
export function formatTables(rows: readonly ResultRow[]): string {
  const steady = rows.filter(isSteady);
  const tables = [formatTable(rows.filter((r) => !isSteady(r)))];
  if (steady.length > 0) tables.push(formatSteadyTable(steady));
  return tables.join('\n\n');
}

/** Burn-down, ingest, scale and memory rows. */
export function formatTable(rows: readonly ResultRow[]): string {
  const header = ['system', 'workload', 'n', 'runs', 'jobs/s median', 'min', 'max', 'sink-window jobs/s', '× best peer', 'peak RSS MB', 'CPU s/100k', 'PG CPU s/100k', 'WAL MB/100k', 'dup', 'lost', 'notes'];
  return markdown(header, rows.map((r) => [
    r.system,
    r.workload,
    fmt(r.n),
    String(r.runs),
    fmt(r.jobsPerSec.median),
    fmt(r.jobsPerSec.min),
    fmt(r.jobsPerSec.max),
    fmt(r.deliveryJobsPerSec),
    r.ratioToBestPeer === undefined || r.ratioToBestPeer === null ? '—' : `${r.ratioToBestPeer.toFixed(2)}×`,
    fmt(r.peakRssMb),
    fmt(r.cpuSecondsPer100k, 2),
    fmt(r.pgCpuSecondsPer100k, 2),
    r.walBytesPer100k === undefined || r.walBytesPer100k === null ? '—' : fmt(r.walBytesPer100k / 1e6, 1),
    fmt(r.duplicates),
    fmt(r.lost),
    notes(r),
  ]));
}

/** W2: per system and target rate, what was delivered and how late. */
export function formatSteadyTable(rows: readonly ResultRow[]): string {
  const header = ['system', 'workload', 'n', 'runs', 'target/s', 'enqueued/s', 'delivered/s median', 'min', 'max', 'p50 ms', 'p95 ms', 'p99 ms', 'CPU s/100k', 'PG CPU s/100k', 'dup', 'lost'];
  return markdown(header, rows.map((r) => [
    r.system,
    r.workload,
    fmt(r.n),
    String(r.runs),
    fmt(r.targetPerSec),
    fmt(r.enqueuePerSec),
    fmt(r.jobsPerSec.median),
    fmt(r.jobsPerSec.min),
    fmt(r.jobsPerSec.max),
    fmt(r.latencyMs?.p50, 1),
    fmt(r.latencyMs?.p95, 1),
    fmt(r.latencyMs?.p99, 1),
    fmt(r.cpuSecondsPer100k, 2),
    fmt(r.pgCpuSecondsPer100k, 2),
    fmt(r.duplicates),
    fmt(r.lost),
  ]));
}

/** The figures only some rows have, in words. */
function notes(row: ResultRow): string {
  const parts: string[] = [];
  if (row.finishedRows !== undefined) {
    parts.push(`${fmt(row.finishedRows)} finished jobs (${row.finishedRowsDestination} destination)`);
    if (row.ratioToCopiedEmpty !== undefined && row.ratioToCopiedEmpty !== null) {
      parts.push(`${row.ratioToCopiedEmpty.toFixed(2)}× an empty store copied the same way`);
    }
    if (row.ratioToEmpty !== undefined && row.ratioToEmpty !== null) parts.push(`${row.ratioToEmpty.toFixed(2)}× plain W1`);
  }
  if (row.setting !== undefined) parts.push(row.setting);
  if (row.startupSeconds !== undefined) parts.push(`incl. ${row.startupSeconds.toFixed(2)} s start-up`);
  return parts.join('; ');
}

function markdown(header: readonly string[], lines: ReadonlyArray<readonly string[]>): string {
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const row = (cells: readonly string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [row(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...lines.map(row)].join('\n');
}
