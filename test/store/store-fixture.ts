/**
 * Shared set-up of the store conformance suite (test/store/*.test.ts). Every case reaches the
 * state it starts from through store operations (enqueue, claim, transitions), never by writing
 * rows directly, so the suite pins what the store promises rather than how today's tables hold it,
 * and stays valid when the tables change underneath.
 */
import { getJob, insertJobs, claimReadyJobs, type ClaimedJob } from '../../src/store/jobs.repository.ts';
import { createUpload, setUploadSize, type Lease } from '../../src/store/uploads.repository.ts';
import { insertImports } from '../../src/store/imports.repository.ts';
import { markImporting } from '../../src/store/jobs.transitions.ts';
import type { RetryPolicy } from '../../src/store/retry-policy.ts';
import { Kysely, PostgresDialect } from 'kysely';
import { createPool } from '../../src/db/connect.ts';
import type { Database, JobRow } from '../../src/db/schema.ts';
import type { RouterContext } from '../../src/router/types.ts';
import type { TestDatabase } from '../helpers/database.ts';
import { databaseForFile } from '../helpers/file-database.ts';
import { silentLog } from '../helpers/router.ts';

export const DEST = 'dest-a';
export const OTHER_DEST = 'dest-b';
export const LEASE: Lease = { owner: 'worker-1', ms: 60_000 };

/** Retries come due at once and never give up: the cases about giving up set their own limits. */
export const RETRY_NOW: RetryPolicy = { maxAttempts: 100, retryWindowMs: 3_600_000, minBackoffMs: 0, maxBackoffMs: 0 };
/** One attempt and no window: the first failure gives up. */
export const GIVE_UP_AT_ONCE: RetryPolicy = { maxAttempts: 1, retryWindowMs: 0, minBackoffMs: 0, maxBackoffMs: 0 };

export interface StoreFixture {
  readonly t: TestDatabase;
  /** Enqueues `n` small events for `destinationId`; returns their ids in order. */
  enqueue(n: number, destinationId?: string): Promise<string[]>;
  /** Creates an upload under `lease` and claims up to `limit` ready jobs into it. */
  claim(options?: { destinationId?: string; limit?: number; maxBytes?: number; lease?: Lease }): Promise<{ uploadId: string; jobs: ClaimedJob[] }>;
  /** Claims the given destination's ready jobs and moves them all into one import. */
  importing(n: number): Promise<{ uploadId: string; importId: string; jobIds: string[] }>;
  job(id: string): Promise<JobRow>;
  /** What the router's claim and sweeper functions need, for worker `workerId`. */
  routerContext(workerId: string): RouterContext;
  states(ids: readonly string[]): Promise<string[]>;
}

/**
 * A second handle on the fixture's database, over one connection, that counts the statements
 * sent through it (`statements`, reset by the test), for the cases that pin round trips.
 */
export function countingDatabase(t: TestDatabase): { db: Kysely<Database>; statements: number } {
  const counter = {
    statements: 0,
    db: new Kysely<Database>({
      dialect: new PostgresDialect({ pool: createPool({ connectionString: t.url, max: 1 }, undefined, t.serverBacked) }),
      log: (event) => { if (event.level === 'query') counter.statements += 1; },
    }),
  };
  return counter;
}

export function events(n: number, from = 0): string[] {
  return Array.from({ length: n }, (_, i) => JSON.stringify({ n: from + i, type: 'track' }));
}

/** Registers the hooks: one migrated database for the file, blank again before every case. */
export function storeFixture(): StoreFixture {
  const t = databaseForFile();
  const fixture: StoreFixture = {
    t,
    enqueue: (n, destinationId = DEST) => insertJobs(t.db, destinationId, events(n)),
    async claim({ destinationId = DEST, limit = 1000, maxBytes = 1e9, lease = LEASE } = {}) {
      const { id: uploadId } = await createUpload(t.db, { destinationId, manager: 'test', lease });
      const jobs = await claimReadyJobs(t.db, { destinationId, uploadId, limit, maxBytes });
      await setUploadSize(t.db, uploadId, jobs.length, 0);
      return { uploadId, jobs };
    },
    async importing(n) {
      await fixture.enqueue(n);
      const { uploadId, jobs } = await fixture.claim();
      const [importId] = await insertImports(t.db, { uploadId, destinationId: DEST, handles: [{ vendorJob: 'v1' }], firstPollInMs: 0 });
      const jobIds = jobs.map((j) => j.id);
      await markImporting(t.db, uploadId, jobIds.map((jobId) => ({ jobId, importId: importId!, correlationKey: `key-${jobId}` })));
      return { uploadId, importId: importId!, jobIds };
    },
    async job(id) {
      const row = await getJob(t.db, id);
      if (!row) throw new Error(`job ${id} is gone`);
      return row;
    },
    routerContext: (workerId) => ({
      db: t.db,
      log: silentLog,
      workerId,
      leaseMs: 60_000,
      stagingDir: '/nonexistent',
      stagingMemoryBytes: 0,
      hardStop: new AbortController().signal,
    }),
    async states(ids) {
      return Promise.all(ids.map(async (id) => (await fixture.job(id)).state));
    },
  };
  return fixture;
}
