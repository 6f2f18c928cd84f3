/**
 * Turning runs into results: rows with median/min/max, the machine and versions they were measured
 * on (a figure without its hardware is meaningless), the printed table, and latest.json.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ResultRow, RunResult, Spread } from './types.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export function spread(values: readonly number[]): Spread {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { median, min: sorted[0]!, max: sorted[sorted.length - 1]! };
}

const median = (values: readonly number[]): number => spread(values).median;
const per100k = (seconds: number, n: number): number => round((seconds / n) * 100_000, 2);
/** Rows carry what the measurement can support; full precision stays in `raw`. */
const round = (value: number, digits: number): number => Math.round(value * 10 ** digits) / 10 ** digits;
const roundSpread = (s: Spread): Spread => ({ median: round(s.median, 0), min: round(s.min, 0), max: round(s.max, 0) });

/** The end-to-end row. Peak RSS is the worst run (a peak is a capacity figure); CPU is the median. */
export function burnDownRow(system: string, results: readonly RunResult[], workload = 'W1-burn-down'): ResultRow {
  const n = results[0]!.n;
  const pg = results.map((r) => r.pgCpuSeconds).filter((s): s is number => s !== null);
  return {
    system,
    workload,
    n,
    runs: results.length,
    jobsPerSec: roundSpread(spread(results.map((r) => r.jobsPerSec))),
    peakRssMb: round(Math.max(...results.map((r) => r.consumer.peakRssMb)), 1),
    cpuSecondsPer100k: median(results.map((r) => per100k(r.consumer.cpuSeconds, r.n))),
    pgCpuSecondsPer100k: pg.length === results.length ? median(pg.map((s) => per100k(s, n))) : null,
    duplicates: results.reduce((sum, r) => sum + r.duplicates, 0),
    lost: results.reduce((sum, r) => sum + r.lost, 0),
  };
}

/** Events per second through the system's enqueue path, from the same runs' load phase. */
export function ingestRow(system: string, results: readonly RunResult[]): ResultRow {
  return {
    system,
    workload: 'ingest',
    n: results[0]!.n,
    runs: results.length,
    jobsPerSec: roundSpread(spread(results.map((r) => r.enqueuePerSec))),
    peakRssMb: null,
    cpuSecondsPer100k: null,
    pgCpuSecondsPer100k: null,
    duplicates: null,
    lost: null,
  };
}

export interface Machine {
  cpus: number;
  cpuModel: string;
  memGb: number;
  node: string;
  postgres: string;
  kernel: string;
  /** 1-minute load average when the bench started: anything else running skews the figures. */
  loadAverageAtStart: number;
}

export function machine(postgresVersion: string): Machine {
  return {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    memGb: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
    node: process.version,
    postgres: postgresVersion,
    kernel: release(),
    loadAverageAtStart: round(loadavg()[0]!, 2),
  };
}

/** Versions of what is measured; `git` says which commit (and whether the tree had edits). */
export async function versions(): Promise<Record<string, string>> {
  const result: Record<string, string> = {};
  const own = JSON.parse(await readFile(`${ROOT}package.json`, 'utf8')) as { version: string };
  result['batch-router'] = own.version;
  for (const name of ['kysely', 'pg', 'tsx', 'p-queue', 'pg-boss', 'graphile-worker']) {
    const meta = await readFile(`${ROOT}node_modules/${name}/package.json`, 'utf8').catch(() => undefined);
    if (meta) result[name] = (JSON.parse(meta) as { version: string }).version;
  }
  try {
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain'], { cwd: ROOT, encoding: 'utf8' }).trim() !== '';
    result.git = dirty ? `${commit}+uncommitted` : commit;
  } catch {
    result.git = 'unknown';
  }
  return result;
}

const fmt = (value: number | null, digits = 0): string =>
  value === null ? '—' : value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

/** A Markdown table: readable in a terminal and pasteable into bench/README.md as is. */
export function formatTable(rows: readonly ResultRow[]): string {
  const header = ['system', 'workload', 'n', 'runs', 'jobs/s median', 'min', 'max', 'peak RSS MB', 'CPU s/100k', 'PG CPU s/100k', 'dup', 'lost'];
  const lines = rows.map((r) => [
    r.system,
    r.workload,
    fmt(r.n),
    String(r.runs),
    fmt(r.jobsPerSec.median),
    fmt(r.jobsPerSec.min),
    fmt(r.jobsPerSec.max),
    fmt(r.peakRssMb),
    fmt(r.cpuSecondsPer100k, 2),
    fmt(r.pgCpuSecondsPer100k, 2),
    fmt(r.duplicates),
    fmt(r.lost),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const row = (cells: readonly string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [row(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...lines.map(row)].join('\n');
}

export async function writeResults(path: string, results: unknown): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  // Written whole to a temporary name first, so an interrupted run never leaves half a file.
  await writeFile(`${path}.tmp`, `${JSON.stringify(results, null, 2)}\n`);
  await rename(`${path}.tmp`, path);
}
