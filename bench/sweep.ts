/**
 * `npm run bench -- --sweep`: every peer at many settings, on the same sink and the same W1
 * workload, so the comparison in the normal run uses each peer at its best and not at one frozen
 * setting. Each point is one short burn-down (default 50,000 events, `--sweep-events N`) in a
 * fresh database; every point is appended to bench/results/sweep.json as soon as it is measured,
 * so an interrupted sweep still leaves what it found. `--sweep-systems a,b` limits the systems
 * (pg-boss, graphile-worker, batch-router-webhook, delivery-ceiling), whose points then replace theirs in the file.
 *
 * Recorded per point: jobs/s from the sink's first to last delivery (the ranking figure: the same
 * clock for every system, without process start-up) and end to end, and CPU seconds per 100k of
 * the consumer process and of PostgreSQL.
 */
import { writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DEFAULT_DATABASE_URL } from './lib/pg.ts';
import type { BurnDownSystem } from './lib/types.ts';
import { sweepPoints, sweepRecords, type SweepPoint, type SweepRecord } from './lib/sweep-grid.ts';
import { COMPLETION_POLL_MS, runBurnDown } from './workloads/burn-down.ts';

export const SWEEP_FILE = fileURLToPath(new URL('./results/sweep.json', import.meta.url));

const { values: flags } = parseArgs({
  options: {
    sweep: { type: 'boolean', default: false },
    'sweep-events': { type: 'string' },
    'sweep-systems': { type: 'string' },
    out: { type: 'string' },
  },
});
const n = Number(flags['sweep-events'] ?? 50_000);
if (!Number.isSafeInteger(n) || n < 1_000) throw new Error(`--sweep-events must be a whole number ≥ 1000, got "${flags['sweep-events']}"`);
const only = flags['sweep-systems']?.split(',').map((s) => s.trim());
const out = flags.out ?? SWEEP_FILE;
const adminUrl = process.env.DATABASE_URL || DEFAULT_DATABASE_URL;
const progress = (line: string) => process.stderr.write(`${line}\n`);

const points = sweepPoints().filter((p) => !only || only.includes(p.system));
const swept = new Set(points.map((p) => p.system));
// A sweep of some systems replaces their points only: the others' stay, each with its own `n`.
const kept = (await sweepRecords(out)).filter((record) => !swept.has(record.system));
const started = new Date();
const records: SweepRecord[] = [];
progress(`sweep: ${points.length} points of ${n} events`);
for (const [index, point] of points.entries()) {
  progress(`[${index + 1}/${points.length}] ${point.system} ${point.label}`);
  records.push(await measure(point.build(), point));
  await writeFile(out, `${JSON.stringify({ startedAt: started.toISOString(), events: n, points: [...kept, ...records] }, null, 2)}\n`);
}
progress(`sweep written to ${out} (${Math.round((Date.now() - started.getTime()) / 1000)} s)`);

async function measure(system: BurnDownSystem, point: SweepPoint): Promise<SweepRecord> {
  const base = { system: point.system, label: point.label, setting: point.setting, n };
  try {
    const r = await runBurnDown(system, { adminUrl, n, enqueueBatch: 5_000, pollMs: COMPLETION_POLL_MS, stallTimeoutMs: 60_000, progress });
    const per100k = (seconds: number) => Math.round((seconds / n) * 100_000 * 100) / 100;
    const record: SweepRecord = {
      ...base,
      deliveryJobsPerSec: Math.round(r.deliveryJobsPerSec),
      endToEndJobsPerSec: Math.round(r.jobsPerSec),
      cpuSecondsPer100k: per100k(r.consumer.cpuSeconds),
      pgCpuSecondsPer100k: r.pgCpuSeconds === null ? null : per100k(r.pgCpuSeconds),
      lost: r.lost,
      duplicates: r.duplicates,
      loadAverage: r.loadAverage,
    };
    progress(`  ${record.deliveryJobsPerSec} jobs/s sink window, ${record.endToEndJobsPerSec} end to end, CPU ${record.cpuSecondsPer100k} + PG ${record.pgCpuSecondsPer100k} s/100k, lost ${r.lost}, load ${r.loadAverage}`);
    return record;
  } catch (error) {
    progress(`  failed: ${String(error)}`);
    return { ...base, error: String(error), loadAverage: Math.round(loadavg()[0]! * 100) / 100 };
  }
}
