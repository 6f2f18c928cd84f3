/**
 * Wake-ups on job arrival on the embedded database: a daemon whose idle poll is a minute delivers
 * a job enqueued by another client of its embedded server within seconds, which only the NOTIFY
 * routed by the wire server (src/db/pglite-wire-notify.ts) can explain.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { openDatabase, type DatabaseHandle } from '../../src/db/connect.ts';
import { startDaemon, type Daemon } from '../../src/daemon.ts';
import { insertJobs } from '../../src/store/jobs.repository.ts';
import { sampleEvents, silentLog } from '../helpers/router.ts';
import { waitFor } from '../helpers/wait-for.ts';

const MINUTE_MS = '60000';

describe('router wake-ups on the embedded database', () => {
  let daemon: Daemon | undefined;
  let client: DatabaseHandle | undefined;
  let dir: string | undefined;
  afterEach(async () => {
    await client?.close();
    await daemon?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
    client = daemon = dir = undefined;
  });

  it('delivers a job enqueued by another client within seconds although the idle poll is a minute', async () => {
    dir = mkdtempSync(join(tmpdir(), 'br-embedded-arrivals-'));
    const out = join(dir, 'out');
    mkdirSync(out);
    const destinations = join(dir, 'destinations.json');
    writeFileSync(destinations, JSON.stringify([{ id: 'files', manager: 'local-files', config: { directory: out, format: 'ndjson' } }]));
    const dataDir = join(dir, 'data');
    const config = loadConfig({
      BATCH_ROUTER_DESTINATIONS_FILE: destinations,
      BATCH_ROUTER_DATA_DIR: dataDir,
      BATCH_ROUTER_IDLE_POLL_MS: MINUTE_MS,
      BATCH_ROUTER_ARRIVAL_SAFETY_POLL_MS: MINUTE_MS,
      BATCH_ROUTER_UPLOAD_INTERVAL_MS: '0',
    });
    daemon = await startDaemon({ config, env: {}, log: silentLog });
    expect(daemon.database.embedded).toBe(true);
    const router = daemon.router!;
    await waitFor(() => router.status().every((s) => s.lastRunAt !== null), { message: 'the router to go idle', timeoutMs: 30_000 });

    // A client of the daemon's embedded server, as the CLI is.
    client = await openDatabase({ dataDir, role: 'client', poolSize: 2, log: silentLog });
    const succeeded = async () => {
      const { rows } = await sql<{ n: string }>`SELECT count(*) AS n FROM br_jobs WHERE state = 'succeeded'`.execute(client!.db);
      return Number(rows[0]!.n);
    };
    // Twice: the first batch could also be found by the catch-up claim the listener makes once it
    // starts listening; by the second, the listener has long been listening.
    for (const expected of [3, 6]) {
      const started = Date.now();
      await insertJobs(client.db, 'files', sampleEvents(3));
      await waitFor(async () => (await succeeded()) === expected, { message: `${expected} jobs delivered long before the next idle poll`, timeoutMs: 30_000 });
      // Half the idle poll: on a loaded machine the wake-up itself takes well under that.
      expect(Date.now() - started).toBeLessThan(30_000);
    }
  });
});
