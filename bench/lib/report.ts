/**
 * What goes around the rows in latest.json: the spread of a figure over runs, the machine and
 * versions they were measured on (a figure without its hardware is meaningless), and writing the
 * file. Rows are built in rows.ts, tables printed by table.ts.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Spread } from './types.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export function spread(values: readonly number[]): Spread {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { median, min: sorted[0]!, max: sorted[sorted.length - 1]! };
}

const round = (value: number, digits: number): number => Math.round(value * 10 ** digits) / 10 ** digits;

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

export async function writeResults(path: string, results: unknown): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  // Written whole to a temporary name first, so an interrupted run never leaves half a file.
  await writeFile(`${path}.tmp`, `${JSON.stringify(results, null, 2)}\n`);
  await rename(`${path}.tmp`, path);
}
