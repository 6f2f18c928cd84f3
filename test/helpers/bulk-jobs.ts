/**
 * Router-level tests of the bulk managers (Marketo, Salesforce): a blank database and a router per
 * test, the rows of `br_jobs` a test asserts on, a wait for every job to reach a final state, and
 * events with the lead-like fields the fakes decide row outcomes by.
 */
import type { Kysely } from 'kysely';
import { afterEach } from 'vitest';
import { insertJobs } from '../../src/store/jobs.repository.ts';
import type { Database, JobState } from '../../src/db/schema.ts';
import type { Router } from '../../src/router/router.ts';
import type { ActiveDestination } from '../../src/router/types.ts';
import { databaseForFile } from './file-database.ts';
import { startRouter } from './router.ts';
import { DEFAULT_WAIT_MS, waitFor } from './wait-for.ts';

export interface RouterHarness {
  readonly db: Kysely<Database>;
  /** Starts a router for `destination`, stopping any running one first (a restart when one ran). */
  start(destination: ActiveDestination): Promise<void>;
  /** Stops the running router, as a process exiting does. */
  stop(): Promise<void>;
  /** Enqueues lead events for `addresses`; returns job ids by address (the first job of a repeated address). */
  enqueue(destinationId: string, addresses: readonly string[]): Promise<Map<string, string>>;
  /** Runs after each test once the router has stopped (fake vendors). */
  onCleanup(close: () => Promise<void>): void;
}

/** Registers the hooks of the calling describe block: one database for it, blank before each test. */
export function routerHarness(): RouterHarness {
  const t = databaseForFile();
  let router: Router | undefined;
  let cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    await router?.stop();
    router = undefined;
    for (const close of cleanups) await close();
    cleanups = [];
  });
  const harness: RouterHarness = {
    get db() {
      return t.db;
    },
    async start(destination) {
      await harness.stop();
      router = startRouter(t.db, [destination]);
    },
    async stop() {
      await router?.stop();
      router = undefined;
    },
    async enqueue(destinationId, addresses) {
      const ids = await insertJobs(t.db, destinationId, leadEvents(addresses));
      return new Map(addresses.map((address, i) => [address, ids[i]!] as const).reverse());
    },
    onCleanup(close) {
      cleanups.push(close);
    },
  };
  return harness;
}

export interface JobView {
  id: string;
  state: JobState;
  attempts: number;
  reason: string | null;
  lastError: string | null;
  correlationKey: string | null;
  importId: string | null;
}

export async function jobViews(db: Kysely<Database>): Promise<JobView[]> {
  const rows = await db.selectFrom('br_jobs').selectAll().orderBy('id').execute();
  return rows.map((row) => ({
    id: row.id,
    state: row.state,
    attempts: row.attempts,
    reason: row.reason,
    lastError: row.last_error,
    correlationKey: row.correlation_key,
    importId: row.import_id,
  }));
}

/** Waits until `count` jobs are succeeded or aborted; returns every job. `tick` runs before each check. */
export async function waitForFinalJobs(
  db: Kysely<Database>,
  count: number,
  options: { timeoutMs?: number; tick?: () => void } = {},
): Promise<JobView[]> {
  return waitFor(
    async () => {
      options.tick?.();
      const jobs = await jobViews(db);
      return jobs.filter((j) => j.state === 'succeeded' || j.state === 'aborted').length === count ? jobs : undefined;
    },
    { timeoutMs: options.timeoutMs ?? DEFAULT_WAIT_MS, message: `${count} jobs to reach a final state` },
  );
}

/** Lead events `{email, firstName, company: {name}}` as NDJSON texts for `insertJobs`. */
export function leadEvents(emails: readonly string[]): string[] {
  return emails.map((email, i) => JSON.stringify({ email, firstName: `First ${i}`, lastName: `Last ${i}`, company: { name: 'Acme' } }));
}

/** `n` distinct addresses `prefix0@example.com`…; a test swaps some for addresses its fake fails. */
export function emails(n: number, prefix = 'lead'): string[] {
  return Array.from({ length: n }, (_, i) => `${prefix}${i}@example.com`);
}
