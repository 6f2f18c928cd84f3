/**
 * The settings `npm run bench -- --sweep` tries for each system, and how the normal run reads the
 * best of them back from bench/results/sweep.json. The grid is what a user tuning each system
 * would try: pg-boss's batch size, workers and polling interval; graphile-worker's events per job
 * and concurrency; batch-router's events per upload and upload concurrency. The delivery ceiling
 * (no store work in the timed window) is swept too, so the bound it sets is its best.
 */
import { readFile } from 'node:fs/promises';
import { batchRouterWebhook } from '../systems/batch-router-webhook.ts';
import { GRAPHILE_SETTINGS, graphileWorker, type GraphileSettings } from '../systems/graphile-worker.ts';
import { deliveryCeiling, deliveryCeilingLabel } from '../systems/delivery-ceiling.ts';
import { PG_BOSS_SETTINGS, pgBoss, type PgBossSettings } from '../systems/pg-boss.ts';
import type { BurnDownSystem } from './types.ts';

export type SweptSystem = 'pg-boss' | 'graphile-worker' | 'batch-router-webhook' | 'delivery-ceiling';

export interface SweepPoint {
  system: SweptSystem;
  label: string;
  setting: Record<string, number>;
  build(): BurnDownSystem;
}

export interface SweepRecord {
  system: SweptSystem;
  label: string;
  setting: Record<string, number>;
  n: number;
  deliveryJobsPerSec?: number;
  endToEndJobsPerSec?: number;
  cpuSecondsPer100k?: number;
  pgCpuSecondsPer100k?: number | null;
  lost?: number;
  duplicates?: number;
  loadAverage: number;
  error?: string;
}

export function pgBossLabel(s: Readonly<PgBossSettings>): string {
  return `${s.workers} workers × ${s.batchSize}, poll ${s.pollingIntervalSeconds} s`;
}
export function graphileLabel(s: Readonly<GraphileSettings>): string {
  return `${s.eventsPerJob} events/job, concurrency ${s.concurrency}`;
}
export function batchRouterLabel(t: Readonly<Record<string, number>>): string {
  return `${t.maxEventsPerUpload} per upload × ${t.uploadConcurrency}`;
}

export function pgBossSetting(setting: Record<string, number>): PgBossSettings {
  return { ...PG_BOSS_SETTINGS, ...setting };
}
export function graphileSetting(setting: Record<string, number>): GraphileSettings {
  // The local queue holds one fetch for every worker, as in the frozen setting.
  return { ...GRAPHILE_SETTINGS, ...setting, localQueueSize: setting.concurrency ?? GRAPHILE_SETTINGS.concurrency };
}

export function sweepPoints(): SweepPoint[] {
  const points: SweepPoint[] = [];
  const boss = (setting: Record<string, number>) => {
    const s = pgBossSetting(setting);
    points.push({ system: 'pg-boss', label: pgBossLabel(s), setting, build: () => pgBoss(s, `pg-boss ${pgBossLabel(s)}`) });
  };
  for (const batchSize of [1_000, 5_000, 10_000, 20_000]) {
    for (const workers of [2, 4, 8, 16]) boss({ batchSize, workers, pollingIntervalSeconds: 0.5 });
  }
  for (const [workers, batchSize] of [[4, 10_000], [8, 10_000], [4, 20_000]] as const) boss({ batchSize, workers, pollingIntervalSeconds: 2 });

  const graphile = (setting: Record<string, number>) => {
    const s = graphileSetting(setting);
    points.push({ system: 'graphile-worker', label: graphileLabel(s), setting, build: () => graphileWorker(s, `graphile-worker ${graphileLabel(s)}`) });
  };
  for (const concurrency of [200, 500, 1_000]) graphile({ eventsPerJob: 1, concurrency });
  for (const concurrency of [10, 50, 200]) graphile({ eventsPerJob: 100, concurrency });
  for (const concurrency of [2, 5, 20]) graphile({ eventsPerJob: 1_000, concurrency });

  for (const maxEventsPerUpload of [500, 2_000, 5_000, 10_000]) {
    for (const uploadConcurrency of [2, 4, 8]) {
      const tuning = { maxEventsPerUpload, uploadConcurrency };
      points.push({
        system: 'batch-router-webhook',
        label: batchRouterLabel(tuning),
        setting: tuning,
        build: () => batchRouterWebhook(tuning, `batch-router ${batchRouterLabel(tuning)}`),
      });
    }
  }

  for (const batchSize of [1_000, 2_000, 10_000]) {
    for (const loops of [2, 5]) {
      const setting = { batchSize, loops };
      const label = deliveryCeilingLabel(setting);
      points.push({ system: 'delivery-ceiling', label, setting, build: () => deliveryCeiling(setting, `delivery-ceiling ${label}`) });
    }
  }
  return points;
}

/**
 * The best point of each system in a sweep file, by end-to-end jobs/s: the sink window of a point
 * whose batches are a large share of the events (20,000 of 50,000) spans one or two gaps only, and
 * overstates. None when the file is absent.
 */
export async function bestOfSweep(
  file: string,
  /** Only the points this accepts (e.g. one batch size). */
  where: (point: SweepRecord) => boolean = () => true,
): Promise<Map<SweptSystem, SweepRecord>> {
  const best = new Map<SweptSystem, SweepRecord>();
  for (const point of await sweepRecords(file)) {
    if (point.error || point.endToEndJobsPerSec === undefined || (point.lost ?? 0) > 0 || !where(point)) continue;
    const current = best.get(point.system);
    if (!current || point.endToEndJobsPerSec > current.endToEndJobsPerSec!) best.set(point.system, point);
  }
  return best;
}

/** The points of a sweep file; none when it is absent. */
export async function sweepRecords(file: string): Promise<SweepRecord[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return [];
  }
  return (JSON.parse(text) as { points: SweepRecord[] }).points;
}
