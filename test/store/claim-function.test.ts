/**
 * Store conformance: the claim in one statement (a database function, src/store/claim-function.ts)
 * and the claim step by step (a transaction of several statements) give the same answer in every
 * gate state, the function is made on first use in a database that lacks it, and the usual claim
 * is exactly one statement.
 */
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { claimNextUpload, claimStepByStep, type ClaimResult } from '../../src/router/claim.ts';
import { claimFunctionName } from '../../src/store/claim-function.ts';
import { endUploadAttempt } from '../../src/store/uploads.repository.ts';
import { insertJobs } from '../../src/store/jobs.repository.ts';
import { scheduleRetries } from '../../src/store/jobs.transitions.ts';
import type { Tuning } from '../../src/tuning-schema.ts';
import type { RetryPolicy } from '../../src/store/retry-policy.ts';
import type { ActiveDestination } from '../../src/router/types.ts';
import { scriptedManager, testDestination } from '../helpers/scripted-manager.ts';
import { countingDatabase, DEST, LEASE, RETRY_NOW, storeFixture, type StoreFixture } from './store-fixture.ts';

const WAIT_FOR_FULL = { maxEventsPerUpload: 3, uploadIntervalMs: 3_600_000 };

const cases: Array<{
  name: string;
  arrange: (s: StoreFixture) => Promise<unknown>;
  tuning?: Partial<Tuning>;
  maxImports?: number;
  expected: { kind: ClaimResult['kind']; jobs?: number; attempt?: number; retried?: number };
}> = [
  { name: 'an empty destination', arrange: async () => {}, expected: { kind: 'idle' } },
  { name: 'a partial batch that has not waited uploadIntervalMs', arrange: (s) => s.enqueue(2), expected: { kind: 'idle' } },
  { name: 'a partial batch that has waited', arrange: (s) => s.enqueue(2), tuning: { uploadIntervalMs: 0 }, expected: { kind: 'claimed', jobs: 2, attempt: 1, retried: 0 } },
  { name: 'a full batch', arrange: (s) => s.enqueue(5), expected: { kind: 'claimed', jobs: 3, attempt: 1, retried: 0 } },
  {
    // 22-byte events: two fit in 50 bytes, a third would not.
    name: 'a full batch cut at maxBytesPerUpload',
    arrange: (s) => s.enqueue(5),
    tuning: { maxBytesPerUpload: 50 },
    expected: { kind: 'claimed', jobs: 2, attempt: 1, retried: 0 },
  },
  {
    name: 'a job retry due, taken before new jobs',
    arrange: async (s) => {
      await jobRetry(s, RETRY_NOW);
      await s.enqueue(3);
    },
    tuning: { uploadConcurrency: 4 },
    expected: { kind: 'claimed', jobs: 3, attempt: 1, retried: 1 },
  },
  {
    name: 'a job retry not yet due: new jobs only',
    arrange: async (s) => {
      await jobRetry(s, { ...RETRY_NOW, minBackoffMs: 3_600_000, maxBackoffMs: 3_600_000 });
      await s.enqueue(3);
    },
    tuning: { uploadConcurrency: 4 },
    expected: { kind: 'claimed', jobs: 3, attempt: 1, retried: 0 },
  },
  {
    name: 'every upload slot taken',
    arrange: (s) => s.enqueue(6).then(() => s.claim({ limit: 3 })),
    tuning: { uploadConcurrency: 1 },
    expected: { kind: 'at-capacity' },
  },
  {
    name: "the manager's open imports at its limit",
    arrange: (s) => s.importing(1).then(() => s.enqueue(3)),
    maxImports: 1,
    expected: { kind: 'at-capacity' },
  },
  {
    name: 'a whole-upload retry due, before a full batch',
    arrange: async (s) => {
      await s.enqueue(2);
      const { uploadId, jobs } = await s.claim({ limit: 2 });
      // As a failed send records it: the jobs wait inside their upload for its next attempt.
      const failures = jobs.map((j) => ({ jobId: j.id, error: 'HTTP 503', code: 'vendor_unavailable' as const }));
      await scheduleRetries(s.t.db, { state: 'executing', uploadId }, failures, RETRY_NOW, true);
      await endUploadAttempt(s.t.db, { uploadId, owner: LEASE.owner, attempt: 1, state: 'retry_wait', retryAfterMs: 0 });
      await s.enqueue(3);
    },
    expected: { kind: 'claimed', jobs: 2, attempt: 2, retried: 2 },
  },
];

/** One job claimed and sent back to wait outside its upload, as a per-job failure records it. */
async function jobRetry(s: StoreFixture, policy: RetryPolicy): Promise<void> {
  const [id] = await s.enqueue(1);
  const { uploadId } = await s.claim({ limit: 1 });
  await scheduleRetries(s.t.db, { state: 'executing', uploadId }, [{ jobId: id!, error: 'HTTP 503', code: 'vendor_unavailable' }], policy, false);
}

function destinationFor(c: (typeof cases)[number]): ActiveDestination {
  const limits = c.maxImports === undefined ? undefined : { maxConcurrentImports: c.maxImports };
  const { manager } = scriptedManager(limits ? { limits } : {});
  return testDestination(manager, DEST, { ...WAIT_FOR_FULL, ...c.tuning });
}

function summary(result: ClaimResult): (typeof cases)[number]['expected'] {
  if (result.kind !== 'claimed') return { kind: result.kind };
  return { kind: result.kind, jobs: result.jobs.length, attempt: result.attempt, retried: result.jobs.filter((j) => j.attempts > 1).length };
}

describe('store: the claim in one statement', () => {
  const s = storeFixture();

  const paths = [
    { path: 'one statement', claim: claimNextUpload },
    { path: 'step by step', claim: claimStepByStep },
  ];
  const table = cases.flatMap((c) => paths.map((p) => ({ ...c, ...p })));
  it.each(table)('$name: $expected.kind ($path)', async (c) => {
    await c.arrange(s);
    expect(summary(await c.claim(s.routerContext('w1'), destinationFor(c)))).toEqual(c.expected);
  });

  it('is made on first use in a database without it, and claims at once', async () => {
    await s.enqueue(3);
    const name = claimFunctionName(s.t.db);
    await sql`DROP FUNCTION IF EXISTS ${sql.raw(name)}`.execute(s.t.db);
    const result = await claimNextUpload(s.routerContext('w1'), destinationFor(cases[0]!));
    expect(summary(result)).toEqual({ kind: 'claimed', jobs: 3, attempt: 1, retried: 0 });
    const { rows } = await sql<{ n: string }>`SELECT count(*) AS n FROM pg_proc WHERE proname = ${name}`.execute(s.t.db);
    expect(Number(rows[0]!.n)).toBe(1);
  });

  /**
   * The claim's payloads travel joined by a control character (src/store/payload-separator.ts);
   * texts that hold it, or stand for a missing payload, are read again by id. Each case's texts
   * must come back exactly, in id order, also past the first result row of 1,000 jobs.
   */
  const payloadCases: Array<{ name: string; texts: string[]; missing?: number[] }> = [
    { name: 'JSON events, one of them non-ASCII', texts: ['{"a":1}', '{"b":"é😀"}', '{"c":[1,2]}'] },
    { name: 'a text holding the separator', texts: ['{"a":1}', 'x\u001ey', '{"c":3}'] },
    { name: 'a text that is the missing-payload mark, and an empty text', texts: ['\u001f', '', '{"c":3}'] },
    { name: 'a missing payload row', texts: ['{"a":1}', '{"b":2}', '{"c":3}'], missing: [1] },
    {
      name: 'the separator in the third result row',
      texts: Array.from({ length: 2_500 }, (_, i) => (i === 2_345 ? 'bad\u001etext' : `{"n":${i}}`)),
    },
  ];
  it.each(payloadCases)('returns every payload exactly: $name', async ({ texts, missing = [] }) => {
    const ids = await insertJobs(s.t.db, DEST, texts);
    const gone = missing.map((i) => ids[i]!);
    if (gone.length > 0) await sql`DELETE FROM br_job_payloads WHERE job_id = ANY(${gone}::bigint[])`.execute(s.t.db);
    const destination = testDestination(scriptedManager({}).manager, DEST, { maxEventsPerUpload: 10_000, uploadIntervalMs: 0 });
    const result = await claimNextUpload(s.routerContext('w1'), destination);
    if (result.kind !== 'claimed') throw new Error(`expected a claim, got ${result.kind}`);
    expect(result.jobs.map((j) => j.id)).toEqual(ids);
    expect(result.jobs.map((j) => j.payload)).toEqual(texts.map((t, i) => (missing.includes(i) ? null : t)));
  });

  it('a claim, and an idle answer, are one statement each', async () => {
    const counting = countingDatabase(s.t);
    try {
      const ctx = { ...s.routerContext('w1'), db: counting.db };
      const destination = destinationFor(cases[0]!);
      await claimNextUpload(ctx, destination); // makes the function if this database lacks it
      await s.enqueue(3);
      counting.statements = 0;
      expect((await claimNextUpload(ctx, destination)).kind).toBe('claimed');
      expect(counting.statements).toBe(1);
      counting.statements = 0;
      expect((await claimNextUpload(ctx, destination)).kind).toBe('idle');
      expect(counting.statements).toBe(1);
    } finally {
      await counting.db.destroy();
    }
  });
});
