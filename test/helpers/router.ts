import pino from 'pino';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Kysely } from 'kysely';
import { Router, type RouterOptions } from '../../src/router/router.ts';
import type { Database } from '../../src/db/schema.ts';
import type { ActiveDestination } from '../../src/router/types.ts';

export const silentLog = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });

/** A router with short timings, started; remember to `stop()` it. */
export function startRouter(
  db: Kysely<Database>,
  destinations: ActiveDestination[],
  overrides: Partial<RouterOptions> = {},
): Router {
  const router = new Router({
    db,
    log: silentLog,
    workerId: `test-${Math.random().toString(16).slice(2, 8)}`,
    stagingDir: mkdtempSync(join(tmpdir(), 'br-staging-')),
    leaseMs: 5000,
    heartbeatMs: 1000,
    idlePollMs: 20,
    sweepIntervalMs: 200,
    shutdownGraceMs: 5000,
    retentionMaxAgeMs: 0,
    retentionBatchSize: 1000,
    destinations,
    ...overrides,
  });
  router.start();
  return router;
}

/** `n` small events with a unique `id`, as NDJSON texts ready for `insertJobs`. */
export function sampleEvents(n: number, extra: Record<string, unknown> = {}): string[] {
  return Array.from({ length: n }, (_, i) => JSON.stringify({ id: `evt-${i}`, type: 'track', n: i, ...extra }));
}
