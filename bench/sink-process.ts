/**
 * The fake webhook receiver of the benchmark, in its own process: parsing ~3 MB request bodies
 * costs real CPU, and counting it in the daemon's process (or running it on the daemon's event
 * loop) would make batch-router look slower and hungrier than it is.
 *
 * Started by bench/run.ts (IPC). Reports `{ url }` when listening (and prints it to stderr, for
 * people pointing something else at it); answers `stats` with the sink's counters plus this process's
 * CPU and peak RSS, and `stop` with the same, then exits.
 *
 * Two receivers, chosen by the environment:
 * - default (W1, W3): the test sink (test/fakes/http-sink.ts); BENCH_SINK_FAIL_FRACTION for W3.
 * - BENCH_SINK_LATENCY=1 (W2): bench/lib/timed-sink.ts, the same counting plus each event's
 *   enqueue → receive latency, answered by the `latency` request (and `window`, since the last
 *   `window`). BENCH_SINK_WINDOWED=1 (the soak) keeps only the current window's latencies.
 */
import { startHttpSink } from '../test/fakes/http-sink.ts';
import { markStart, processStats, serveRunner, type ProcessStats } from './lib/child.ts';
import { startTimedSink, type LatencyReport, type LatencyWindow, type TimedSinkCounts } from './lib/timed-sink.ts';

export interface SinkReport extends ProcessStats {
  received: number;
  unique: number;
  duplicates: number;
  requests: number;
  rejected: number;
  /** Wall clock (epoch ms) of the first and last accepted events, seen by a 5 ms watcher; null before any. */
  firstDeliveryAt: number | null;
  lastDeliveryAt: number | null;
  /** Events the sink had at its first delivery: they arrived before the window opened. */
  eventsAtFirstDelivery: number;
}

export type { LatencyReport, LatencyWindow };

interface Receiver {
  url: string;
  counts(): TimedSinkCounts;
  latency?(): LatencyReport;
  window?(): LatencyWindow;
  close(): Promise<void>;
}

async function startReceiver(): Promise<Receiver> {
  if (process.env.BENCH_SINK_LATENCY === '1') return startTimedSink({ windowed: process.env.BENCH_SINK_WINDOWED === '1' });
  const sink = await startHttpSink();
  // W3: a fraction of requests is answered 500 (seeded generator, so every run fails the same requests).
  const failFraction = Number(process.env.BENCH_SINK_FAIL_FRACTION ?? 0);
  if (failFraction > 0) sink.failFraction(failFraction, { status: 500 });
  return { url: sink.url, counts: () => sink.stats(), close: () => sink.close() };
}

const receiver = await startReceiver();

// Every system is timed the same way from the sink's side: first to last accepted event. A 5 ms
// watcher on the counter (the sink's handler is not ours to change) bounds the error at 5 ms each end.
let firstDeliveryAt: number | null = null;
let lastDeliveryAt: number | null = null;
let lastEvents = 0;
let eventsAtFirstDelivery = 0;
const watcher = setInterval(() => {
  const events = receiver.counts().events;
  if (events === lastEvents) return;
  const now = Date.now();
  if (firstDeliveryAt === null) [firstDeliveryAt, eventsAtFirstDelivery] = [now, events];
  lastDeliveryAt = now;
  lastEvents = events;
}, 5);

function report(): SinkReport {
  const counts = receiver.counts();
  return {
    received: counts.events,
    unique: counts.uniqueIds,
    duplicates: counts.duplicates,
    requests: counts.requests,
    rejected: counts.rejected,
    firstDeliveryAt,
    lastDeliveryAt,
    eventsAtFirstDelivery,
    ...processStats(),
  };
}

// stderr: the runner keeps stdout for the results table.
process.stderr.write(`sink listening on ${receiver.url}\n`);
serveRunner(
  { url: receiver.url },
  {
    // The runner calls this right before it starts the system under test.
    mark: () => markStart(),
    stats: () => report(),
    latency: () => {
      if (!receiver.latency) throw new Error('latency needs BENCH_SINK_LATENCY=1');
      return receiver.latency();
    },
    // The soak: latencies of the events first delivered since the last `window`.
    window: () => {
      if (!receiver.window) throw new Error('window needs BENCH_SINK_LATENCY=1');
      return receiver.window();
    },
    stop: async () => {
      const last = report();
      clearInterval(watcher);
      await receiver.close();
      return last;
    },
  },
);
