/**
 * The runner side of the SQL floors' consumers: one loop per connection, started by `start`,
 * asked to finish its current batch and end by `stop`. A loop that throws ends the process, so a
 * broken floor fails the run loudly instead of stalling it.
 */
import pg from 'pg';
import { markStart, processStats, serveRunner } from './child.ts';
import { requiredEnv } from './post.ts';

export interface LoopSetup {
  settings: { batchSize: number; loops: number };
  /** The sink's webhook URL. */
  url: string;
  /** One connected client per loop. */
  clients: pg.Client[];
}

/** Reads what the runner passes a SQL consumer (settings, sink, database) and connects its loops. */
export async function connectLoops(): Promise<LoopSetup> {
  const settings = JSON.parse(requiredEnv('BENCH_SETTINGS')) as LoopSetup['settings'];
  const clients = Array.from({ length: settings.loops }, () => new pg.Client({ connectionString: requiredEnv('DATABASE_URL') }));
  await Promise.all(clients.map((c) => c.connect()));
  return { settings, url: `${requiredEnv('BENCH_SINK_URL')}/hook`, clients };
}

export function serveSqlLoops(
  name: string,
  settings: object,
  clients: readonly pg.Client[],
  loop: (client: pg.Client, stopping: () => boolean) => Promise<void>,
): void {
  let stopping = false;
  let running: Promise<unknown> | undefined;
  serveRunner(settings, {
    start: () => {
      markStart();
      running = Promise.all(clients.map((client) => loop(client, () => stopping))).catch((error: unknown) => {
        process.stderr.write(`${name} consumer failed: ${String(error)}\n`);
        process.exit(1);
      });
    },
    stats: () => processStats(),
    stop: async () => {
      const stats = processStats();
      stopping = true;
      await running;
      await Promise.all(clients.map((c) => c.end()));
      return stats;
    },
  });
}
