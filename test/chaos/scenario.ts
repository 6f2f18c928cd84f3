/**
 * One chaos run: a private PostgreSQL, the receivers, three daemons; producers feed events
 * through the API and the CLI while a random daemon is SIGKILLed every few seconds and
 * PostgreSQL is restarted once half-way; then it waits for every job to be final and verifies.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import pg from 'pg';
import { waitFor } from '../helpers/wait-for.ts';
import { startFleet } from './daemons.ts';
import { startReceivers } from './destinations.ts';
import { startPgCluster } from './pg-cluster.ts';
import { enqueueViaCli, submitViaApi, type ApiSubmission, type CliEnqueue } from './producers.ts';
import { verify, type Verdict } from './verify.ts';

export interface ChaosOptions {
  apiBatches: number;
  cliBatches: number;
  batchSize: number;
  kills: number;
  /** Pause between one daemon coming back and the next kill. */
  killIntervalMs: number;
  /** How long every job may take to become final after the last kill. */
  settleTimeoutMs: number;
  seed?: number;
  log?: (line: string) => void;
}

export interface ChaosReport {
  events: number;
  kills: number;
  pgRestarts: number;
  crashes: string[];
  faults: string[];
  apiRetries: number;
  cliReruns: number;
  seconds: number;
  verdict: Verdict;
}

export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const log = options.log ?? (() => undefined);
  const random = seeded(options.seed ?? 12);
  const started = Date.now();
  const dir = mkdtempSync(join(tmpdir(), 'br-chaos-'));
  const cluster = await startPgCluster();
  const receivers = await startReceivers();
  const destinationsFile = join(dir, 'destinations.json');
  writeFileSync(destinationsFile, JSON.stringify(receivers.destinations, null, 2));
  const env = {
    DATABASE_URL: cluster.url, BATCH_ROUTER_DESTINATIONS_FILE: destinationsFile, BATCH_ROUTER_DATA_DIR: join(dir, 'data'),
    BATCH_ROUTER_API_KEYS_FILE: join(dir, 'no-keys.json'), LOG_LEVEL: 'warn', BATCH_ROUTER_LOG_FORMAT: 'json',
    // Short leases and backoff so a killed daemon's work is taken over within seconds.
    BATCH_ROUTER_LEASE_MS: '3000', BATCH_ROUTER_SWEEP_INTERVAL_MS: '1000', BATCH_ROUTER_UPLOAD_INTERVAL_MS: '300',
    BATCH_ROUTER_MIN_BACKOFF_MS: '500', BATCH_ROUTER_MAX_BACKOFF_MS: '5000', BATCH_ROUTER_RETENTION_MAX_AGE_MS: '0',
    BATCH_ROUTER_API_RATE_LIMIT: '0', BATCH_ROUTER_DB_POOL_SIZE: '8', BATCH_ROUTER_SHUTDOWN_GRACE_MS: '2000',
  };
  // Migrate once up front so three daemons starting together do not race on it.
  const migrated = await import('../cli/cli-runner.ts').then(({ startCli }) => startCli(['migrate'], env).exited);
  if (migrated.code !== 0) throw new Error(`migrate failed: ${migrated.stderr}`);
  const fleet = await startFleet(3, env);
  const api: ApiSubmission[] = [];
  const cli: CliEnqueue[] = [];
  const faults: string[] = [];
  let kills = 0;
  let pgRestarts = 0;
  try {
    let chaosOver = false;
    let produced = false;
    const chaos = (async () => {
      // At least `kills` kills, and kills go on for as long as events are being produced.
      for (let k = 0; k < options.kills || !produced; k++) {
        await delay(options.killIntervalMs * (0.5 + random()));
        const victim = Math.floor(random() * 3);
        log(`kill ${k + 1}: ${fleet.daemons[victim]!.name} (api batches ${api.length}, cli batches ${cli.length})`);
        await fleet.killAndRestart(victim);
        kills += 1;
        faults.push(receivers.injectFault(random));
        if (k === Math.floor(options.kills / 2)) {
          log('restarting PostgreSQL');
          cluster.restart();
          pgRestarts += 1;
        }
        await fleet.reviveDead();
      }
      chaosOver = true;
    })();
    const apiProducer = (async () => {
      for (let b = 0; b < options.apiBatches; b++) {
        api.push(await submitViaApi(fleet.daemons, b, options.batchSize, random));
        if (!chaosOver) await delay(50);
      }
    })();
    const cliProducer = (async () => {
      for (let b = 0; b < options.cliBatches; b++) cli.push(await enqueueViaCli(env, dir, b, options.batchSize));
    })();
    await Promise.all([apiProducer, cliProducer]);
    produced = true;
    await chaos;
    log(`produced; waiting for every job to be final`);
    await fleet.reviveDead();
    await waitFor(() => openJobs(cluster.url).then((n) => n === 0), { timeoutMs: options.settleTimeoutMs, intervalMs: 1000, message: 'every job final' })
      .catch((error: unknown) => log(String(error)));
    const verdict = await verify(cluster.url, receivers, api, cli);
    return {
      events: (options.apiBatches + options.cliBatches) * options.batchSize, kills, pgRestarts, crashes: fleet.crashes, faults,
      apiRetries: api.reduce((n, s) => n + s.tries - 1, 0), cliReruns: cli.reduce((n, c) => n + c.failedRuns, 0),
      seconds: Math.round((Date.now() - started) / 1000), verdict,
    };
  } finally {
    await fleet.stop();
    await receivers.close();
    cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function openJobs(url: string): Promise<number> {
  const client = new pg.Client(url);
  await client.connect();
  try {
    const { rows } = await client.query<{ n: string }>(`SELECT count(*) AS n FROM br_jobs WHERE state NOT IN ('succeeded', 'aborted', 'cancelled')`);
    return Number(rows[0]!.n);
  } finally {
    await client.end();
  }
}

/** Reproducible randomness: a failing run can be replayed with its seed. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = Math.imul(state ^ (state >>> 15), state | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
