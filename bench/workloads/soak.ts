/**
 * The soak: batch-router-webhook (W1's frozen settings) with retention on and short, fed at a
 * fixed rate for a long time, sampled every few seconds. It answers whether throughput stays
 * flat and the job tables stay bounded once the sweeper drops finished partitions as fast as
 * new ones fill (1,000,000 job ids each, src/store/job-partitions.ts).
 *
 * The producer is W2's (clock-paced batches stamped with their enqueue time); the sink is W2's
 * timed sink in windowed mode, so each sample has the latencies of its own interval.
 */
import { loadavg } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import type { BenchChild, ProcessStats } from '../lib/child.ts';
import { withConsumerRig } from '../lib/consumer-rig.ts';
import { settle } from '../lib/pg.ts';
import { residentMb, storeFootprint } from '../lib/store-footprint.ts';
import { DAEMON_ENV, FROZEN_TUNING, prepare } from '../systems/batch-router-webhook.ts';
import type { LatencyWindow, SinkReport } from '../sink-process.ts';
import { benchClockMs, makeEvents } from './events.ts';
import { producePaced, type PacedProducerResult } from './paced-producer.ts';
import { waitForAll } from './steady-rate.ts';

export interface SoakOptions {
  adminUrl: string;
  ratePerSec: number;
  seconds: number;
  sampleSeconds: number;
  retentionMaxAgeMs: number;
  sweepIntervalMs: number;
  /** After the last enqueue, how long the sink gets to receive the rest (ms). */
  graceMs: number;
  progress: (line: string) => void;
}

export interface SoakSample {
  /** Seconds since the first enqueue, at the end of the interval. */
  atSeconds: number;
  enqueued: number;
  delivered: number;
  deliveredPerSec: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  /** Enqueued so far − delivered so far: with a healthy sink, exactly the unfinished jobs. */
  backlog: number;
  jobTableBytes: number;
  databaseBytes: number;
  partitions: number;
  /** Partitions seen earlier in the run that no longer exist. */
  partitionsDropped: number;
  daemonRssMb: number | null;
  /** Daemon CPU over the interval, % of one core. */
  daemonCpuPercent: number;
  loadAverage: number;
}

export interface SoakResult {
  n: number;
  producer: PacedProducerResult;
  samples: SoakSample[];
  lost: number;
  duplicates: number;
  partitionsDropped: number;
  daemonEnv: Record<string, string>;
}

export async function runSoak(options: SoakOptions): Promise<SoakResult> {
  const n = Math.round(options.ratePerSec * options.seconds);
  const daemonEnv = {
    ...DAEMON_ENV,
    BATCH_ROUTER_RETENTION_MAX_AGE_MS: String(options.retentionMaxAgeMs),
    BATCH_ROUTER_SWEEP_INTERVAL_MS: String(options.sweepIntervalMs),
  };
  const rig = {
    sinkEnv: { BENCH_SINK_LATENCY: '1', BENCH_SINK_WINDOWED: '1' },
    prepare: (url: string) => prepare(url, FROZEN_TUNING, undefined, daemonEnv),
  };
  return withConsumerRig(options.adminUrl, rig, async ({ fresh, sink, prepared, spawnConsumer }) => {
    await settle(fresh.client, { analyze: false });
    const consumer = await spawnConsumer();
    await consumer.request('start');
    let enqueued = 0;
    const sampler = new Sampler(options, fresh.client, sink, consumer, () => enqueued);
    await sampler.begin();
    const producing = producePaced({
      ratePerSec: options.ratePerSec,
      total: n,
      tickMs: 20,
      // W1's enqueue batch: the runner's event loop must stay free for the samples.
      maxBatch: 5_000,
      send: async (first, count) => {
        await prepared.enqueue(makeEvents(count, fresh.name, { first, enqueuedAt: benchClockMs() }));
        enqueued += count;
      },
    });
    const sampling = sampler.loop();
    const producer = await producing;
    const last = await waitForAll(sink, n, options.graceMs);
    await sampler.stop(sampling);
    return { n, producer, samples: sampler.samples, lost: n - last.unique, duplicates: last.duplicates, partitionsDropped: sampler.dropped.size, daemonEnv };
  });
}

/** Takes one SoakSample every `sampleSeconds` until stopped (and one last at the stop). */
class Sampler {
  readonly samples: SoakSample[] = [];
  readonly dropped = new Set<string>();
  readonly #seen = new Set<string>();
  #running = true;
  #started = 0;
  #last = { at: 0, enqueued: 0, delivered: 0, cpuSeconds: 0 };

  constructor(
    private readonly options: SoakOptions,
    private readonly client: import('pg').Client,
    private readonly sink: BenchChild<{ url: string }>,
    private readonly consumer: BenchChild<unknown>,
    private readonly enqueued: () => number,
  ) {}

  async begin(): Promise<void> {
    await this.sink.request<LatencyWindow>('window');
    const cpu = (await this.consumer.request<ProcessStats>('stats')).cpuSeconds;
    this.#started = performance.now();
    this.#last = { at: this.#started, enqueued: 0, delivered: 0, cpuSeconds: cpu };
  }

  async loop(): Promise<void> {
    const step = this.options.sampleSeconds * 1000;
    while (this.#running) {
      // Against the clock: a slow sample does not shift the ones after it (a missed tick is skipped).
      const elapsed = performance.now() - this.#started;
      await sleep((Math.floor(elapsed / step) + 1) * step - elapsed);
      if (this.#running) await this.take();
    }
  }

  async stop(loop: Promise<void>): Promise<void> {
    this.#running = false;
    await loop;
    await this.take();
  }

  async take(): Promise<void> {
    const now = performance.now();
    const window = await this.sink.request<LatencyWindow>('window');
    const counts = await this.sink.request<SinkReport>('stats');
    const cpuSeconds = (await this.consumer.request<ProcessStats>('stats')).cpuSeconds;
    const footprint = await storeFootprint(this.client);
    for (const name of footprint.partitions) this.#seen.add(name);
    for (const name of this.#seen) if (!footprint.partitions.includes(name)) this.dropped.add(name);
    const seconds = (now - this.#last.at) / 1000;
    const enqueued = this.enqueued();
    const sample: SoakSample = {
      atSeconds: Math.round((now - this.#started) / 100) / 10,
      enqueued: enqueued - this.#last.enqueued,
      delivered: window.delivered,
      deliveredPerSec: Math.round(window.delivered / seconds),
      latencyP50Ms: Math.round(window.p50),
      latencyP99Ms: Math.round(window.p99),
      backlog: enqueued - counts.unique,
      jobTableBytes: footprint.jobTableBytes,
      databaseBytes: footprint.databaseBytes,
      partitions: footprint.partitions.length,
      partitionsDropped: this.dropped.size,
      daemonRssMb: residentMb(this.consumer.pid),
      daemonCpuPercent: Math.round(((cpuSeconds - this.#last.cpuSeconds) / seconds) * 1000) / 10,
      loadAverage: Math.round(loadavg()[0]! * 100) / 100,
    };
    this.#last = { at: now, enqueued, delivered: counts.unique, cpuSeconds };
    this.samples.push(sample);
    this.options.progress(formatSample(sample));
  }
}

const mb = (bytes: number) => `${Math.round(bytes / 1024 / 1024)} MB`;

function formatSample(s: SoakSample): string {
  return `  t=${s.atSeconds}s delivered ${s.deliveredPerSec}/s (enqueued ${s.enqueued}) p50 ${s.latencyP50Ms} ms p99 ${s.latencyP99Ms} ms`
    + ` backlog ${s.backlog} job tables ${mb(s.jobTableBytes)} db ${mb(s.databaseBytes)} partitions ${s.partitions}`
    + ` (dropped ${s.partitionsDropped}) daemon ${s.daemonRssMb?.toFixed(0) ?? '—'} MB ${s.daemonCpuPercent}% load ${s.loadAverage}`;
}
