/**
 * Idle: what a daemon with nothing to send costs. The webhook daemon runs on an empty store with
 * production defaults (not the bench's 20 ms idle poll): arrivals wake it by LISTEN/NOTIFY, so
 * between them it should only heartbeat and sweep. Measured after a settling period (start-up,
 * first claims, first sweep), over `seconds`, as a percentage of one core, for the daemon and
 * for the PostgreSQL backends serving its database (plus the server's WAL writer, background
 * writer and checkpointer, which run whether or not anyone is connected).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { spawnBenchChild, type BenchChild, type ProcessStats } from '../lib/child.ts';
import { PgCpuMeter, createFreshDatabase } from '../lib/pg.ts';
import type { PhaseResult, PreparedSystem } from '../lib/types.ts';
import { FROZEN_TUNING, prepare } from '../systems/batch-router-webhook.ts';

const SETTLE_MS = 5_000;

export interface IdleRun {
  seconds: number;
  daemonCorePercent: number;
  pgCorePercent: number | null;
  daemonPeakRssMb: number;
  loadAverage: number;
}

export async function runIdle(seconds: number, options: { adminUrl: string; progress: (line: string) => void }): Promise<PhaseResult> {
  options.progress(`batch-router-webhook: idle for ${seconds} s after ${SETTLE_MS / 1000} s of settling, production defaults`);
  const run = await measureIdle(seconds, options.adminUrl);
  options.progress(`  idle daemon ${run.daemonCorePercent.toFixed(2)}% of a core, PostgreSQL ${run.pgCorePercent?.toFixed(2) ?? '—'}%`);
  return {
    rows: [{
      system: 'batch-router-webhook',
      workload: `idle-${seconds}s`,
      n: 0,
      runs: 1,
      jobsPerSec: { median: 0, min: 0, max: 0 },
      setting: `idle: daemon ${run.daemonCorePercent.toFixed(2)}% of a core, PostgreSQL ${run.pgCorePercent?.toFixed(2) ?? '—'}%`,
      peakRssMb: run.daemonPeakRssMb,
      cpuSecondsPer100k: null,
      pgCpuSecondsPer100k: null,
      duplicates: null,
      lost: null,
    }],
    raw: [{ system: 'batch-router-webhook', workload: `idle-${seconds}s`, runs: [run] }],
  };
}

async function measureIdle(seconds: number, adminUrl: string): Promise<IdleRun> {
  const workDir = await mkdtemp(join(tmpdir(), 'batch-router-bench-'));
  const fresh = await createFreshDatabase(adminUrl);
  let sink: BenchChild<{ url: string }> | undefined;
  let prepared: PreparedSystem | undefined;
  let consumer: BenchChild<unknown> | undefined;
  try {
    sink = await spawnBenchChild<{ url: string }>('sink-process.ts', {});
    prepared = await prepare(fresh.url, FROZEN_TUNING, undefined, { LOG_LEVEL: 'warn', BATCH_ROUTER_LOG_FORMAT: 'json' });
    consumer = await prepared.spawnConsumer({ sinkUrl: sink.ready.url, workDir });
    await consumer.request('start');
    // Settling is a fixed period by design: what is measured is a window of doing nothing.
    await sleep(SETTLE_MS);
    const meter = new PgCpuMeter(fresh.client, fresh.name);
    await meter.sample();
    const before = await consumer.request<ProcessStats>('stats');
    const started = performance.now();
    await sleep(seconds * 1000);
    const after = await consumer.request<ProcessStats>('stats');
    await meter.sample();
    const elapsed = (performance.now() - started) / 1000;
    const pg = meter.seconds();
    return {
      seconds: elapsed,
      daemonCorePercent: ((after.cpuSeconds - before.cpuSeconds) / elapsed) * 100,
      pgCorePercent: pg === null ? null : (pg / elapsed) * 100,
      daemonPeakRssMb: after.peakRssMb,
      loadAverage: Math.round(loadavg()[0]! * 100) / 100,
    };
  } finally {
    await consumer?.stop().catch(() => undefined);
    await sink?.stop().catch(() => undefined);
    await prepared?.close().catch(() => undefined);
    await fresh.drop();
    await rm(workDir, { recursive: true, force: true });
  }
}
