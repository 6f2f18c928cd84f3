/**
 * W1 "burn-down": a backlog of N events is enqueued first (timed on its own: the ingest figure),
 * then the consumer is started and the clock runs until every job is final in the database AND
 * the sink has received every id. This is the catch-up case (a destination was down, or a bulk
 * import was queued): what matters is how fast a backlog drains, not the latency of one event.
 *
 * Everything runs against a fresh database and a fresh sink process, so a run cannot inherit
 * dead tuples, cached plans or counters from the one before it.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import { spawnBenchChild, type BenchChild, type ProcessStats } from '../lib/child.ts';
import { PgCpuMeter, createFreshDatabase, settle } from '../lib/pg.ts';
import type { BurnDownSystem, PreparedSystem, RunResult } from '../lib/types.ts';
import { walBytesSince, walPosition } from '../lib/wal.ts';
import type { SinkReport } from '../sink-process.ts';
import { makeEvents } from './events.ts';

export interface BurnDownOptions {
  adminUrl: string;
  n: number;
  /** Events per enqueue call. */
  enqueueBatch: number;
  /** Completion check cadence (ms); also the resolution of the measured time. */
  pollMs: number;
  /** Give up when nothing moves for this long (ms): a stuck system must not hang the bench. */
  stallTimeoutMs: number;
  progress: (line: string) => void;
  /**
   * W3: the sink answers 500 to this fraction of requests (seeded, so reproducible), and every
   * system retries by its own policy (bench/README.md lists them). 0 or unset: W1.
   */
  sinkFailFraction?: number;
  /** Copy this database instead of starting empty (the scale workload's finished-job history). */
  templateDatabase?: string;
  /**
   * Loads the n jobs itself (set-based SQL on the runner's connection) instead of the system's
   * enqueue path; the memory workload's 1M backlog. The run's enqueue figures then time this loader.
   */
  bulkLoad?: (client: pg.Client, n: number, tag: string) => Promise<void>;
}

export async function runBurnDown(system: BurnDownSystem, options: BurnDownOptions): Promise<RunResult> {
  const { n } = options;
  const workDir = await mkdtemp(join(tmpdir(), 'batch-router-bench-'));
  const fresh = await createFreshDatabase(options.adminUrl, options.templateDatabase);
  let sink: BenchChild<{ url: string }> | undefined;
  let prepared: PreparedSystem | undefined;
  let consumer: BenchChild<unknown> | undefined;
  try {
    sink = await spawnBenchChild<{ url: string }>(system.sinkScript ?? 'sink-process.ts', {
      ...system.sinkEnv,
      ...(options.sinkFailFraction ? { BENCH_SINK_FAIL_FRACTION: String(options.sinkFailFraction) } : {}),
    });
    prepared = await system.prepare(fresh.url);

    const enqueueSeconds = await enqueueAll(prepared, fresh.client, fresh.name, options);
    options.progress(`enqueued ${n} in ${enqueueSeconds.toFixed(2)} s (${Math.round(n / enqueueSeconds)}/s)`);
    await settle(fresh.client);

    consumer = await prepared.spawnConsumer({ sinkUrl: sink.ready.url, workDir });
    const meter = new PgCpuMeter(fresh.client, fresh.name);
    await meter.sample();
    await sink.request('mark');
    const walStart = await walPosition(fresh.client);
    const started = performance.now();
    await consumer.request('start');
    const last = await waitUntilDone(prepared, sink, meter, options);
    const elapsedSeconds = (last.at - started) / 1000;
    // The window opens at the first delivery, so the events of that first request are not in it.
    const window = deliveryWindowSeconds(last.sink);
    const deliverySeconds = window ?? elapsedSeconds;
    const deliveredInWindow = window === null ? n : n - last.sink.eventsAtFirstDelivery;
    const walBytes = await walBytesSince(fresh.client, walStart);

    // Read before stopping anything: the graceful stop is not part of the measured work.
    const consumerStats = await consumer.request<ProcessStats>('stats');
    await meter.sample();
    const finalJobs = await prepared.finalCount();
    return {
      n,
      enqueueSeconds,
      enqueuePerSec: n / enqueueSeconds,
      elapsedSeconds,
      jobsPerSec: n / elapsedSeconds,
      deliverySeconds,
      deliveryJobsPerSec: deliveredInWindow / deliverySeconds,
      consumer: consumerStats,
      sink: { cpuSeconds: last.sink.cpuSeconds, peakRssMb: last.sink.peakRssMb, peakRssAtStartMb: last.sink.peakRssAtStartMb },
      pgCpuSeconds: meter.seconds(),
      duplicates: last.sink.duplicates,
      sinkRejected: last.sink.rejected,
      lost: n - last.sink.unique,
      finalJobs,
      walBytes,
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

/** First to last sink delivery (at least one watcher tick); null from a receiver that does not say. */
function deliveryWindowSeconds(sink: SinkReport): number | null {
  if (sink.firstDeliveryAt === null || sink.lastDeliveryAt === null || sink.lastDeliveryAt === sink.firstDeliveryAt) return null;
  return (sink.lastDeliveryAt - sink.firstDeliveryAt) / 1000;
}

/** Loads the backlog (the system's enqueue path unless `bulkLoad` is set); returns wall seconds. */
async function enqueueAll(prepared: PreparedSystem, client: pg.Client, tag: string, options: BurnDownOptions): Promise<number> {
  const { n } = options;
  if (options.bulkLoad) {
    const started = performance.now();
    await options.bulkLoad(client, n, tag);
    return (performance.now() - started) / 1000;
  }
  // Built before the clock: the ingest figure measures the enqueue path, not JSON.stringify.
  const events = makeEvents(n, tag);
  const started = performance.now();
  for (let i = 0; i < n; i += options.enqueueBatch) await prepared.enqueue(events.slice(i, i + options.enqueueBatch));
  return (performance.now() - started) / 1000;
}

/**
 * How often a run asks the sink whether it has every id: the resolution of the end-to-end time.
 * At 100 ms a run of about a second was ±10%, and runs of one setting fell into two groups 100 ms
 * apart; the sink answers from counters, so asking every 10 ms costs it nothing measurable.
 */
export const COMPLETION_POLL_MS = 10;

/** While the sink still misses ids, how often the database is asked anyway (a run that lost jobs must end). */
const DATABASE_CHECK_EVERY_MS = 1_000;
/** How often the PostgreSQL CPU meter samples while a run drains. */
const METER_SAMPLE_EVERY_MS = 500;

/**
 * Polls until the database shows no unfinished job and the sink has every id. The sink counts a
 * batch before answering it and the daemon records success only after the answer, so once the
 * database is drained the sink's count is final: ids still missing then are lost, not late.
 */
async function waitUntilDone(
  prepared: PreparedSystem,
  sink: BenchChild<{ url: string }>,
  meter: PgCpuMeter,
  options: BurnDownOptions,
): Promise<{ at: number; sink: SinkReport }> {
  let lastProgress = performance.now();
  let lastUnique = -1;
  let lastReport = performance.now();
  let lastDatabaseCheck = performance.now();
  let lastMeterSample = performance.now();
  for (;;) {
    await sleep(options.pollMs);
    // The database is asked only once the sink has every id (or once a second, so a run that
    // lost jobs still ends): some systems' "unfinished?" query has no index of its own and would
    // otherwise load the server with the harness's work while the clock runs.
    const stats = await sink.request<SinkReport>('stats');
    const askDatabase = stats.unique >= options.n || performance.now() - lastDatabaseCheck >= DATABASE_CHECK_EVERY_MS;
    if (askDatabase) lastDatabaseCheck = performance.now();
    const drained = askDatabase ? await prepared.drained() : false;
    const now = performance.now();
    if (drained && stats.unique >= options.n) return { at: now, sink: stats };
    if (drained) {
      // Re-read once: a request the sink counted after our stats call is then included.
      return { at: now, sink: await sink.request<SinkReport>('stats') };
    }
    if (now - lastMeterSample >= METER_SAMPLE_EVERY_MS) {
      lastMeterSample = now;
      await meter.sample();
    }
    if (stats.unique !== lastUnique) [lastUnique, lastProgress] = [stats.unique, now];
    if (now - lastProgress > options.stallTimeoutMs) {
      throw new Error(`no progress for ${options.stallTimeoutMs} ms: sink has ${stats.unique}/${options.n} unique ids`);
    }
    if (now - lastReport > 5000) {
      lastReport = now;
      options.progress(`  ${stats.unique}/${options.n} delivered`);
    }
  }
}
