/**
 * batch-router under test, in its own process so its peak RSS and CPU time are measured alone.
 *
 * Setup (before `ready`): writes a destinations file with one `webhook` destination pointing at
 * the sink, checks it loads, and imports every manager module, so the timed `start` pays for the
 * daemon's real start-up work (config, registry, pool, router) but not for compiling TypeScript.
 * `start` then runs `startDaemon`, the production entry point, exactly as `batch-router start`
 * does, only without signal handling: the runner stops it with a `stop` request instead.
 *
 * Env (set by bench/systems/batch-router-*.ts): DATABASE_URL, BENCH_SINK_URL, BENCH_MANAGER,
 * BENCH_DESTINATION_CONFIG,
 * BENCH_WORK_DIR, BENCH_DESTINATION_ID, BENCH_TUNING (JSON object), plus any BATCH_ROUTER_* /
 * LOG_LEVEL settings, which reach loadConfig as they would in production.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { envSnapshot, loadConfig } from '../src/config.ts';
import { startDaemon, type Daemon } from '../src/daemon.ts';
import { loadDestinations } from '../src/destinations.ts';
import { createLogger } from '../src/logger.ts';
import { loadManagers } from '../src/manager/registry.ts';
import { markStart, processStats, serveRunner } from './lib/child.ts';

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} must be set (bench/run.ts sets it)`);
  return value;
}

const workDir = required('BENCH_WORK_DIR');
const destinationId = required('BENCH_DESTINATION_ID');
const destinationsFile = join(workDir, 'destinations.json');
// BENCH_MANAGER / BENCH_DESTINATION_CONFIG (JSON) select another manager (e.g. the Marketo row);
// without them the destination is the `webhook` manager posting JSON batches to the sink.
const destination = {
  id: destinationId,
  manager: process.env.BENCH_MANAGER ?? 'webhook',
  config: process.env.BENCH_DESTINATION_CONFIG
    ? (JSON.parse(process.env.BENCH_DESTINATION_CONFIG) as Record<string, unknown>)
    : { url: `${required('BENCH_SINK_URL')}/hook`, format: 'json' },
  tuning: JSON.parse(process.env.BENCH_TUNING ?? '{}') as Record<string, number>,
};
writeFileSync(destinationsFile, JSON.stringify([destination], null, 2));

// The schema is migrated by the runner on a fresh database; the daemon only checks nothing is left.
const env = envSnapshot({
  ...process.env,
  BATCH_ROUTER_DESTINATIONS_FILE: destinationsFile,
  BATCH_ROUTER_DATA_DIR: workDir,
  BATCH_ROUTER_AUTO_MIGRATE: process.env.BATCH_ROUTER_AUTO_MIGRATE ?? 'false',
});
const config = loadConfig(env);
const log = createLogger(config);

// Compiles and caches every manager module now; startDaemon's own loadManagers then hits the cache.
const registry = await loadManagers();
const loaded = loadDestinations(destinationsFile, registry, env);
const entry = loaded.destinations[0];
if (loaded.fileError || !entry?.valid) {
  throw new Error(`benchmark destination is invalid: ${loaded.fileError ?? entry?.error ?? 'missing'}`);
}

let daemon: Daemon | undefined;
let stopped = false;

serveRunner(
  { tuning: entry.tuning, idlePollMs: config.idlePollMs, dbPoolSize: config.dbPoolSize },
  {
    start: async () => {
      markStart();
      daemon = await startDaemon({ config, env, log });
    },
    stats: () => processStats(),
    stop: async () => {
      // Stats are taken before the graceful stop, which is not part of the measured work.
      const stats = processStats();
      if (!stopped) {
        stopped = true;
        await daemon?.stop();
      }
      return stats;
    },
  },
);
