/**
 * The runner side of the SQL floors' consumers: one loop per connection, started by `start`,
 * asked to finish its current batch and end by `stop`. A loop that throws ends the process, so a
 * broken floor fails the run loudly instead of stalling it.
 */
import type pg from 'pg';
import { markStart, processStats, serveRunner } from './child.ts';

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
