/**
 * The systems of the normal run: batch-router at its frozen tuning, at its sweep best and at the
 * webhook default of 500 events per upload (at the concurrency best for it in the sweep); the three
 * SQL floors (per-job updates, append-only, segments); the delivery ceiling (no store work while timed) at its sweep best; and each peer at its best setting from
 * the latest sweep (bench/results/sweep.json) and at batch-router's batch size ("equal batch").
 * Without a sweep file the peers run at their frozen settings, and the table's notes say so.
 */
import { batchRouterMarketo } from '../systems/batch-router-marketo.ts';
import { batchRouterWebhook, FROZEN_TUNING } from '../systems/batch-router-webhook.ts';
import { deliveryCeiling, deliveryCeilingLabel, DELIVERY_CEILING_SETTINGS, type DeliveryCeilingSettings } from '../systems/delivery-ceiling.ts';
import { graphileWorker, GRAPHILE_SETTINGS } from '../systems/graphile-worker.ts';
import { pgBoss, PG_BOSS_SETTINGS } from '../systems/pg-boss.ts';
import { sqlFloorAppendOnly } from '../systems/sql-floor-append-only.ts';
import { sqlFloorSegments } from '../systems/sql-floor-segments.ts';
import { sqlFloor } from '../systems/sql-floor.ts';
import { batchRouterLabel, bestOfSweep, graphileLabel, graphileSetting, pgBossLabel, pgBossSetting, type SweptSystem } from './sweep-grid.ts';
import type { BurnDownSystem } from './types.ts';

/** The webhook manager's default events per upload: the batch size most users run at. */
export const WEBHOOK_DEFAULT_EVENTS_PER_UPLOAD = 500;

export async function comparedSystems(sweepFile: string, tuningOverrides: Readonly<Record<string, number>>): Promise<BurnDownSystem[]> {
  const best = await bestOfSweep(sweepFile);
  const from = (system: SweptSystem) => {
    const point = best.get(system);
    return point ? { setting: point.setting, how: `best of sweep (${point.n} events): ${point.label}` } : undefined;
  };
  const tuning = { ...FROZEN_TUNING, ...tuningOverrides };
  const equal = { batch: tuning.maxEventsPerUpload!, loops: tuning.uploadConcurrency! };

  const systems: BurnDownSystem[] = [{ ...batchRouterWebhook(tuningOverrides), settingLabel: `frozen: ${batchRouterLabel(tuning)}` }];
  const routerBest = from('batch-router-webhook');
  if (routerBest && batchRouterLabel({ ...tuning, ...routerBest.setting }) !== batchRouterLabel(tuning)) {
    systems.push({ ...batchRouterWebhook(routerBest.setting, 'batch-router-best'), settingLabel: routerBest.how });
  }
  // The webhook's default batch size, at the upload concurrency the sweep found best for it.
  const smallBest = (await bestOfSweep(sweepFile, (p) => p.setting.maxEventsPerUpload === WEBHOOK_DEFAULT_EVENTS_PER_UPLOAD)).get('batch-router-webhook');
  const small = { maxEventsPerUpload: WEBHOOK_DEFAULT_EVENTS_PER_UPLOAD, uploadConcurrency: smallBest?.setting.uploadConcurrency ?? tuning.uploadConcurrency! };
  const smallHow = smallBest ? `webhook default, best of sweep at ${WEBHOOK_DEFAULT_EVENTS_PER_UPLOAD}` : 'webhook default';
  systems.push({ ...batchRouterWebhook(small, 'batch-router-500'), settingLabel: `${smallHow}: ${batchRouterLabel(small)}` });
  systems.push(batchRouterMarketo(), sqlFloor(), sqlFloorAppendOnly(), sqlFloorSegments());
  const ceilingBest = from('delivery-ceiling');
  const ceiling = { ...DELIVERY_CEILING_SETTINGS, ...(ceilingBest?.setting as Partial<DeliveryCeilingSettings> | undefined) };
  systems.push({ ...deliveryCeiling(ceiling), settingLabel: ceilingBest?.how ?? `not swept: ${deliveryCeilingLabel(ceiling)}` });

  const bossBest = from('pg-boss');
  const bossSettings = bossBest ? pgBossSetting(bossBest.setting) : PG_BOSS_SETTINGS;
  systems.push({ ...pgBoss(bossSettings), peer: true, settingLabel: bossBest?.how ?? `frozen, no sweep file: ${pgBossLabel(bossSettings)}` });
  const bossEqual = pgBossSetting({ batchSize: equal.batch, workers: equal.loops, pollingIntervalSeconds: 0.5 });
  systems.push({ ...pgBoss(bossEqual, 'pg-boss-equal-batch'), peer: true, settingLabel: `equal batch: ${pgBossLabel(bossEqual)}` });

  const graphileBest = from('graphile-worker');
  const graphileSettings = graphileBest ? graphileSetting(graphileBest.setting) : GRAPHILE_SETTINGS;
  systems.push({ ...graphileWorker(graphileSettings), peer: true, settingLabel: graphileBest?.how ?? `frozen, no sweep file: ${graphileLabel(graphileSettings)}` });
  const graphileEqual = graphileSetting({ eventsPerJob: equal.batch, concurrency: equal.loops });
  systems.push({ ...graphileWorker(graphileEqual, 'graphile-worker-equal-batch'), peer: true, settingLabel: `equal batch: ${graphileLabel(graphileEqual)}` });
  return systems;
}
