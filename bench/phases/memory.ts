/**
 * Memory: the daemon's peak RSS while it drains a backlog of 1M waiting jobs. The jobs are loaded
 * with set-based SQL (lib/bulk-load.ts): the daemon cannot tell how its jobs were inserted, and
 * inserting them through `insertJobs` would add a minute of loading that measures nothing here.
 *
 * It drains fully (~50 s at W1 rates), so the peak covers the whole life of a big backlog:
 * claiming from a large claim index, staging, the last partial batches. One run: a peak is a
 * capacity figure, and the row's W1-style figures (rate, CPU, WAL) come along for free.
 */
import { sizeLabel } from '../lib/flags.ts';
import { loadWaitingBacklog } from '../lib/bulk-load.ts';
import { burnDownRow } from '../lib/rows.ts';
import type { BurnDownSystem, PhaseResult } from '../lib/types.ts';
import { DESTINATION_ID } from '../systems/batch-router-webhook.ts';
import { runBurnDown, type BurnDownOptions } from '../workloads/burn-down.ts';
import { logged } from './burn-down-rounds.ts';

export async function runMemory(system: BurnDownSystem, backlog: number, options: Omit<BurnDownOptions, 'n'>): Promise<PhaseResult> {
  const { progress } = options;
  const workload = `memory-${sizeLabel(backlog)}-backlog`;
  progress(`${system.name}: ${workload}, loading ${backlog} waiting jobs with SQL`);
  const result = logged(
    await runBurnDown(system, {
      ...options,
      n: backlog,
      bulkLoad: (client, n, tag) => loadWaitingBacklog(client, { rows: n, destinationId: DESTINATION_ID, tag, progress }),
    }),
    progress,
  );
  return { rows: [burnDownRow(system.name, [result], workload)], raw: [{ system: system.name, workload, runs: [result] }] };
}
