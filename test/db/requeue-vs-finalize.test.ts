/**
 * A requeue of aborted jobs racing the finalizer that records their submission's final state.
 * Without a shared lock the finalizer could count the jobs as aborted, the requeue commit, and
 * the finalizer then write `failed` over a submission whose jobs run again: it would stay failed.
 */
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { requeueAborted } from '../../src/store/jobs.maintenance.ts';
import { insertJobs } from '../../src/store/jobs.repository.ts';
import { finalizeSubmissions, getSubmission, insertSubmission } from '../../src/api/store/submissions.repository.ts';
import { requiresServer, requiresServerReason } from '../helpers/database.ts';
import { databaseForFile } from '../helpers/file-database.ts';
import { waitFor } from '../helpers/wait-for.ts';

describe.skipIf(requiresServer)(`requeue racing the submission finalizer (${requiresServerReason})`, () => {
  const t = databaseForFile();

  async function abortedSubmission(id: string): Promise<string[]> {
    await insertSubmission(t.db, { id, destinationId: 'd', keyId: null, jobCount: 2, callbackUrl: null });
    const ids = await insertJobs(t.db, 'd', ['{"n":1}', '{"n":2}'], id);
    await sql`UPDATE br_jobs SET state = 'aborted', reason = 'vendor said no', finished_at = now() WHERE id = ANY(${ids}::bigint[])`.execute(t.db);
    return ids;
  }

  /** Runs `work` in a transaction that stays open until the returned `commit` is called. */
  function heldTransaction<T>(work: (trx: typeof t.db) => Promise<T>) {
    let commit!: () => void;
    const released = new Promise<void>((resolve) => (commit = resolve));
    let result: T | undefined;
    let ready!: () => void;
    const done = new Promise<void>((resolve) => (ready = resolve));
    const finished = t.db.transaction().execute(async (trx) => {
      result = await work(trx);
      ready();
      await released;
    });
    return { done: done.then(() => result as T), commit: () => (commit(), finished) };
  }

  async function lockWaiters(): Promise<number> {
    const { rows } = await sql<{ n: string }>`
      SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'
    `.execute(t.db);
    return Number(rows[0]!.n);
  }

  it('a requeue during finalization waits for it, then reopens the submission', async () => {
    const jobIds = await abortedSubmission('sub_race_1');
    const finalizer = heldTransaction((trx) => finalizeSubmissions(trx, 10, 5));
    expect((await finalizer.done).map((s) => [s.id, s.state])).toEqual([['sub_race_1', 'failed']]);

    let requeueSettled = false;
    const requeue = requeueAborted(t.db, { submissionId: 'sub_race_1' }).finally(() => (requeueSettled = true));
    await waitFor(async () => (await lockWaiters()) > 0, { message: 'the requeue waits on the submission row lock' });
    expect(requeueSettled).toBe(false);

    await finalizer.commit();
    expect((await requeue).sort()).toEqual([...jobIds].sort());
    const row = await getSubmission(t.db, 'sub_race_1');
    expect(row).toMatchObject({ state: 'pending', summary: null, completed_at: null });
  });

  it('a finalizer running during a requeue skips the submission, which stays pending', async () => {
    await abortedSubmission('sub_race_2');
    const requeue = heldTransaction((trx) => requeueAborted(trx, { submissionId: 'sub_race_2' }));
    expect(await requeue.done).toHaveLength(2);

    expect(await finalizeSubmissions(t.db, 10, 5)).toEqual([]);
    await requeue.commit();
    // Now the jobs are open again, so there is still nothing to finalize.
    expect(await finalizeSubmissions(t.db, 10, 5)).toEqual([]);
    expect((await getSubmission(t.db, 'sub_race_2'))?.state).toBe('pending');
  });

  it('a requeue after finalization reopens the recorded submission, for CLI and API alike', async () => {
    await abortedSubmission('sub_race_3');
    await finalizeSubmissions(t.db, 10, 5);
    expect((await getSubmission(t.db, 'sub_race_3'))?.state).toBe('failed');
    expect(await requeueAborted(t.db, { reasonContains: 'SAID NO' })).toHaveLength(2);
    expect((await getSubmission(t.db, 'sub_race_3'))?.state).toBe('pending');
  });
});
