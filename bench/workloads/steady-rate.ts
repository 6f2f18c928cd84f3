/**
 * W2 "steady rate": the consumer is started first, on an empty store, then events arrive at a
 * fixed rate for a fixed time, each stamped with the moment it was enqueued; the sink records
 * receive time − stamp per event. This is the everyday case (events trickle in, a destination is
 * healthy): what matters is how late each event arrives and whether the system keeps up, not how
 * fast a backlog drains.
 *
 * Like W1, every run gets a fresh database and a fresh sink and consumer process.
 */
import { loadavg } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import type { BenchChild, ProcessStats } from '../lib/child.ts';
import { withConsumerRig } from '../lib/consumer-rig.ts';
import { PgCpuMeter, settle } from '../lib/pg.ts';
import type { BurnDownSystem } from '../lib/types.ts';
import type { LatencyReport, SinkReport } from '../sink-process.ts';
import { benchClockMs, makeEvents } from './events.ts';
import { producePaced, type PacedProducerResult } from './paced-producer.ts';

export interface SteadyRateOptions {
  adminUrl: string;
  ratePerSec: number;
  durationMs: number;
  /** Producer batch cadence (ms). */
  tickMs: number;
  /** Between the consumer's `start` and the first event: its start-up is not an event's latency. */
  startupMs: number;
  /** After the last event is enqueued, how long to wait for the sink to have them all (ms). */
  graceMs: number;
}

export interface SteadyRunResult {
  targetPerSec: number;
  n: number;
  producer: PacedProducerResult;
  /** Unique events / their delivery span (see deliveredRate): below target if it fell behind. */
  deliveredPerSec: number;
  latency: LatencyReport;
  duplicates: number;
  /** Events the sink had not received when the grace period ended. */
  lost: number;
  consumer: ProcessStats;
  sink: ProcessStats;
  pgCpuSeconds: number | null;
  loadAverage: number;
}

export async function runSteadyRate(system: BurnDownSystem, options: SteadyRateOptions): Promise<SteadyRunResult> {
  const n = Math.round((options.ratePerSec * options.durationMs) / 1000);
  const rig = { sinkEnv: { BENCH_SINK_LATENCY: '1' }, prepare: system.prepare };
  return withConsumerRig(options.adminUrl, rig, async ({ fresh, sink, prepared, spawnConsumer }) => {
    // No ANALYZE here: of empty tables it records "0 rows", and plans cached from that stay bad
    // while the tables grow during the run (sql-floor's claim of ~80 rows took 50–400 ms and it
    // fell behind at 5k/s). Tables never analyzed are planned as "size unknown", which is what a
    // fresh deployment has until autovacuum's first ANALYZE.
    await settle(fresh.client, { analyze: false });
    const consumer = await spawnConsumer();
    const meter = new PgCpuMeter(fresh.client, fresh.name);
    await meter.sample();
    await sink.request('mark');
    await consumer.request('start');
    await sleep(options.startupMs);

    const sampling = sampleWhile(meter);
    const producer = await producePaced({
      ratePerSec: options.ratePerSec,
      total: n,
      tickMs: options.tickMs,
      send: (first, count) => prepared.enqueue(makeEvents(count, fresh.name, { first, enqueuedAt: benchClockMs() })),
    });
    const last = await waitForAll(sink, n, options.graceMs);
    sampling.stop();
    await sampling.done;

    const latency = await sink.request<LatencyReport>('latency');
    const consumerStats = await consumer.request<ProcessStats>('stats');
    await meter.sample();
    return {
      targetPerSec: options.ratePerSec,
      n,
      producer,
      deliveredPerSec: deliveredRate(latency, last.unique, producer.seconds),
      latency,
      duplicates: last.duplicates,
      lost: n - last.unique,
      consumer: consumerStats,
      sink: { cpuSeconds: last.cpuSeconds, peakRssMb: last.peakRssMb, peakRssAtStartMb: last.peakRssAtStartMb },
      pgCpuSeconds: meter.seconds(),
      loadAverage: Math.round(loadavg()[0]! * 100) / 100,
    };
  });
}

/**
 * Unique events over the span from the first to the last new delivery, but never over less than
 * the producer's own span. Both ends of the delivery span are late by about the same latency, so
 * for a system that keeps up it matches the enqueue span, give or take the consumer's delivery
 * cadence (pg-boss delivers every 0.5 s); a span shorter than the enqueue span is that cadence,
 * not speed, hence the floor. A system that falls behind delivers its backlog after the producer
 * stopped, stretching the span: the rate is then its capacity. (Measured from the first enqueue
 * instead, every system would look slower than the target by its own latency.)
 */
function deliveredRate(latency: LatencyReport, unique: number, producerSeconds: number): number {
  if (latency.firstAt === null || latency.lastAt === null) return 0;
  return unique / Math.max((latency.lastAt - latency.firstAt) / 1000, producerSeconds);
}

/** Polls the sink until it has `n` unique ids or `graceMs` passed; returns its last counts. */
export async function waitForAll(sink: BenchChild<{ url: string }>, n: number, graceMs: number): Promise<SinkReport> {
  const deadline = performance.now() + graceMs;
  for (;;) {
    const stats = await sink.request<SinkReport>('stats');
    if (stats.unique >= n || performance.now() > deadline) return stats;
    await sleep(50);
  }
}

/** Samples the PostgreSQL CPU meter every 0.5 s in the background (backends come and go). */
function sampleWhile(meter: PgCpuMeter): { stop(): void; done: Promise<void> } {
  let running = true;
  const done = (async () => {
    while (running) {
      await sleep(500);
      if (running) await meter.sample();
    }
  })();
  return {
    stop() {
      running = false;
    },
    done,
  };
}
