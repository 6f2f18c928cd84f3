/**
 * Store conformance: every job transition, each with its guard matching and not matching. A guard
 * that does not match (another upload or import, a state the jobs already left) must touch nothing
 * and say so in its count: that is what keeps a zombie worker or a late poll from overwriting
 * newer state.
 */
import { describe, expect, it } from 'vitest';
import {
  markAborted,
  markAllSucceeded,
  markImporting,
  markSucceeded,
  scheduleRetries,
  snooze,
  type JobGuard,
} from '../../src/store/jobs.transitions.ts';
import type { JobRow } from '../../src/db/schema.ts';
import type { Kysely } from 'kysely';
import type { Database } from '../../src/db/schema.ts';
import { GIVE_UP_AT_ONCE, RETRY_NOW, storeFixture, type StoreFixture } from './store-fixture.ts';

type Db = Kysely<Database>;

interface Transition {
  name: string;
  apply(db: Db, guard: JobGuard, jobIds: readonly string[]): Promise<number>;
  /** What a job looks like after the transition applied. */
  expected: (job: JobRow) => void;
}

const failure = { code: 'record_rejected' as const, vendorCode: 'E1004' };

const transitions: Transition[] = [
  {
    name: 'markSucceeded (with a warning)',
    apply: (db, guard, ids) => markSucceeded(db, guard, ids.map((jobId) => ({ jobId, warning: 'field truncated' }))),
    expected: (job) => {
      expect([job.state, job.reason]).toEqual(['succeeded', 'field truncated']);
      expect(job.finished_at).toBeInstanceOf(Date);
    },
  },
  {
    name: 'markAllSucceeded',
    apply: (db, guard) => markAllSucceeded(db, guard),
    expected: (job) => {
      expect([job.state, job.reason]).toEqual(['succeeded', null]);
      expect(job.finished_at).toBeInstanceOf(Date);
    },
  },
  {
    name: 'markAborted',
    apply: (db, guard, ids) => markAborted(db, guard, ids.map((jobId) => ({ jobId, reason: 'email is not valid', ...failure }))),
    expected: (job) => {
      expect([job.state, job.reason, job.error_code, job.vendor_code]).toEqual(['aborted', 'email is not valid', 'record_rejected', 'E1004']);
      expect(job.finished_at).toBeInstanceOf(Date);
    },
  },
  {
    name: 'scheduleRetries (budget left: back to waiting, out of the upload)',
    apply: async (db, guard, ids) =>
      (await scheduleRetries(db, guard, ids.map((jobId) => ({ jobId, error: 'HTTP 503', ...failure })), RETRY_NOW, false)).retried,
    expected: (job) => {
      expect([job.state, job.last_error, job.error_code, job.upload_id, job.import_id, job.attempts]).toEqual(['waiting', 'HTTP 503', 'record_rejected', null, null, 1]);
      expect(job.first_failed_at).toBeInstanceOf(Date);
      expect(job.finished_at).toBeNull();
    },
  },
  {
    name: 'scheduleRetries (both limits spent: aborted with a reason that says so)',
    apply: async (db, guard, ids) =>
      (await scheduleRetries(db, guard, ids.map((jobId) => ({ jobId, error: 'HTTP 503', ...failure })), GIVE_UP_AT_ONCE, false)).aborted,
    expected: (job) => {
      expect(job.state).toBe('aborted');
      expect(job.reason).toMatch(/^gave up after 1 attempts since .*: HTTP 503$/);
      expect(job.finished_at).toBeInstanceOf(Date);
    },
  },
  {
    name: 'snooze (vendor busy: waiting again, the attempt given back)',
    apply: (db, guard, ids) => snooze(db, guard, ids.map((jobId) => ({ jobId, reason: 'queue full', retryAfterMs: 0, ...failure })), false),
    expected: (job) => {
      expect([job.state, job.attempts, job.last_error, job.upload_id]).toEqual(['waiting', 0, 'queue full', null]);
    },
  },
];

/** Where the jobs are, and which guard matches them. */
interface Scenario {
  name: string;
  setup(s: StoreFixture): Promise<{ jobIds: string[]; matching: JobGuard; notMatching: Array<[string, JobGuard]> }>;
}

const far = (id: string) => String(BigInt(id) + 1_000_000n);

const scenarios: Scenario[] = [
  {
    name: 'executing in an upload',
    async setup(s) {
      await s.enqueue(2);
      const { uploadId, jobs } = await s.claim();
      return {
        jobIds: jobs.map((j) => j.id),
        matching: { state: 'executing', uploadId },
        notMatching: [
          ['another upload (a zombie of a different claim)', { state: 'executing', uploadId: far(uploadId) }],
          ['the importing state', { state: 'importing', importId: '1' }],
        ],
      };
    },
  },
  {
    name: 'importing under an import',
    async setup(s) {
      const { uploadId, importId, jobIds } = await s.importing(2);
      return {
        jobIds,
        matching: { state: 'importing', importId },
        notMatching: [
          ['another import (a late poll of a different import)', { state: 'importing', importId: far(importId) }],
          ['the executing state they already left', { state: 'executing', uploadId }],
        ],
      };
    },
  },
];

describe('store: transitions', () => {
  const s = storeFixture();

  for (const scenario of scenarios) {
    describe(scenario.name, () => {
      it.each(transitions)('$name applies under the matching guard', async (transition) => {
        const { jobIds, matching } = await scenario.setup(s);
        expect(await transition.apply(s.t.db, matching, jobIds)).toBe(jobIds.length);
        for (const id of jobIds) transition.expected(await s.job(id));
      });

      it.each(transitions)('$name touches nothing under a guard that does not match', async (transition) => {
        const { jobIds, notMatching } = await scenario.setup(s);
        const before = await Promise.all(jobIds.map((id) => s.job(id)));
        for (const [, guard] of notMatching) expect(await transition.apply(s.t.db, guard, jobIds)).toBe(0);
        expect(await Promise.all(jobIds.map((id) => s.job(id)))).toEqual(before);
      });

      it.each(transitions)('$name touches nothing once the jobs reached a final state', async (transition) => {
        const { jobIds, matching } = await scenario.setup(s);
        await markAborted(s.t.db, matching, jobIds.map((jobId) => ({ jobId, reason: 'first verdict', code: 'bad_event' })));
        expect(await transition.apply(s.t.db, matching, jobIds)).toBe(0);
        expect((await s.job(jobIds[0]!)).reason).toBe('first verdict');
      });
    });
  }

  it('markImporting moves executing jobs of its upload only, persisting import and correlation keys', async () => {
    await s.enqueue(3);
    const { uploadId, jobs } = await s.claim({ limit: 2 });
    const [otherUploadsJob] = (await s.claim()).jobs.map((j) => j.id);
    const items = [...jobs.map((j) => j.id), otherUploadsJob!].map((jobId) => ({ jobId, importId: '7', correlationKey: `k${jobId}` }));
    expect(await markImporting(s.t.db, uploadId, items)).toBe(2);
    const first = await s.job(jobs[0]!.id);
    expect([first.state, first.import_id, first.correlation_key]).toEqual(['importing', '7', `k${jobs[0]!.id}`]);
    expect((await s.job(otherUploadsJob!)).state).toBe('executing');
    expect(await markImporting(s.t.db, uploadId, items)).toBe(0);
  });

  it('markImporting moves a retried job riding along with new jobs, each with its own attempt count', async () => {
    const [retried] = await s.enqueue(1);
    const first = await s.claim();
    await scheduleRetries(s.t.db, { state: 'executing', uploadId: first.uploadId }, [{ jobId: retried!, error: 'HTTP 503', code: 'vendor_unavailable' }], RETRY_NOW, false);
    const fresh = await s.enqueue(2);
    const { uploadId, jobs } = await s.claim();
    expect(jobs.map((j) => j.id).sort()).toEqual([retried!, ...fresh].sort());
    const items = jobs.map((j) => ({ jobId: j.id, importId: '9', correlationKey: `k${j.id}` }));
    expect(await markImporting(s.t.db, first.uploadId, items)).toBe(0);
    expect(await markImporting(s.t.db, uploadId, items)).toBe(3);
    for (const id of [retried!, ...fresh]) {
      const job = await s.job(id);
      expect([job.state, job.upload_id, job.import_id, job.correlation_key]).toEqual(['importing', uploadId, '9', `k${id}`]);
    }
    expect((await s.job(retried!)).attempts).toBe(2);
    expect((await s.job(fresh[0]!)).attempts).toBe(1);
    expect(await markImporting(s.t.db, uploadId, items)).toBe(0);
  });

  it('keepInUpload: a retried job stays in its upload for a whole-upload resend', async () => {
    await s.enqueue(1);
    const { uploadId, jobs } = await s.claim();
    await scheduleRetries(s.t.db, { state: 'executing', uploadId }, [{ jobId: jobs[0]!.id, error: 'timeout', code: 'vendor_unavailable' }], RETRY_NOW, true);
    const job = await s.job(jobs[0]!.id);
    expect([job.state, job.upload_id]).toEqual(['waiting', uploadId]);
    expect((await s.claim()).jobs).toEqual([]);
  });
});
