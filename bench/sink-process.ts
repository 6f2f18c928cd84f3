/**
 * The fake webhook receiver of the benchmark, in its own process: parsing ~3 MB request bodies
 * costs real CPU, and counting it in the daemon's process (or running it on the daemon's event
 * loop) would make batch-router look slower and hungrier than it is.
 *
 * Started by bench/run.ts (IPC). Reports `{ url }` when listening (and prints it to stderr, for
 * people pointing something else at it); answers `stats` with the sink's counters plus this process's
 * CPU and peak RSS, and `stop` with the same, then exits.
 */
import { startHttpSink, type SinkStats } from '../test/fakes/http-sink.ts';
import { markStart, processStats, serveRunner, type ProcessStats } from './lib/child.ts';

export interface SinkReport extends ProcessStats {
  received: number;
  unique: number;
  duplicates: number;
  requests: number;
  rejected: number;
}

const sink = await startHttpSink();
// W3: a fraction of requests is answered 500 (seeded generator, so every run fails the same requests).
const failFraction = Number(process.env.BENCH_SINK_FAIL_FRACTION ?? 0);
if (failFraction > 0) sink.failFraction(failFraction, { status: 500 });

function report(): SinkReport {
  const stats: SinkStats = sink.stats();
  return {
    received: stats.events,
    unique: stats.uniqueIds,
    duplicates: stats.duplicates,
    requests: stats.requests,
    rejected: stats.rejected,
    ...processStats(),
  };
}

// stderr: the runner keeps stdout for the results table.
process.stderr.write(`sink listening on ${sink.url}\n`);
serveRunner(
  { url: sink.url },
  {
    // The runner calls this right before it starts the system under test.
    mark: () => markStart(),
    stats: () => report(),
    stop: async () => {
      const last = report();
      await sink.close();
      return last;
    },
  },
);
