/**
 * Consumer of the "graphile-worker" system (bench/systems/graphile-worker.ts). Every job runs
 * the `deliver` task, which queues its event for the next POST and waits for that POST's answer:
 * the events of all tasks started in the same event-loop tick share one request. A failed
 * request throws in each of its tasks, and graphile-worker retries those jobs.
 */
import { Logger, run, type Runner } from 'graphile-worker';
import { markStart, processStats, serveRunner } from '../lib/child.ts';
import { postBatch, requiredEnv } from '../lib/post.ts';
import { GRAPHILE_SCHEMA, GRAPHILE_TASK, type GraphileSettings } from '../systems/graphile-worker.ts';

const settings = JSON.parse(requiredEnv('BENCH_SETTINGS')) as GraphileSettings;

const url = `${requiredEnv('BENCH_SINK_URL')}/hook`;

let pending: string[] = [];
let flush: Promise<void> | undefined;

/** Resolves when the request carrying `events` was answered 2xx. */
function deliver(events: readonly string[]): Promise<void> {
  pending.push(...events);
  flush ??= new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
    const batch = pending;
    pending = [];
    flush = undefined;
    return postBatch(url, batch);
  });
  return flush;
}

/** A batched job (`eventsPerJob` > 1) carries `{ events }`; otherwise the payload is the event. */
function eventsOf(payload: unknown): string[] {
  if (settings.eventsPerJob > 1) return (payload as { events: unknown[] }).events.map((event) => JSON.stringify(event));
  return [JSON.stringify(payload)];
}

let runner: Runner | undefined;

// Warnings and errors only, like the daemon's LOG_LEVEL=warn: graphile-worker's default logger
// writes one info line per completed job, which would bill console output to it.
// A task that throws (W3's injected 500s) is logged as an error per job: counted, not printed.
let failedTasks = 0;
const logger = new Logger(() => (level, message) => {
  if (message.startsWith('Failed task')) failedTasks += 1;
  else if (level === 'warning' || level === 'error') process.stderr.write(`graphile-worker ${level}: ${message}\n`);
});
process.on('exit', () => {
  if (failedTasks > 0) process.stderr.write(`graphile-worker: ${failedTasks} task attempts failed (retried by graphile-worker)\n`);
});

serveRunner(settings, {
  start: async () => {
    markStart();
    runner = await run({
      connectionString: requiredEnv('DATABASE_URL'),
      schema: GRAPHILE_SCHEMA,
      concurrency: settings.concurrency,
      maxPoolSize: settings.maxPoolSize,
      pollInterval: settings.pollInterval,
      noHandleSignals: true,
      logger,
      taskList: { [GRAPHILE_TASK]: async (payload) => deliver(eventsOf(payload)) },
      preset: {
        worker: {
          localQueue: { size: settings.localQueueSize },
          completeJobBatchDelay: settings.completeJobBatchDelay,
          failJobBatchDelay: settings.failJobBatchDelay,
        },
      },
    });
  },
  stats: () => processStats(),
  stop: async () => {
    const stats = processStats();
    await runner?.stop();
    return stats;
  },
});
