import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scriptedManager } from '../helpers/scripted-manager.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { startHarness, submit, type ApiHarness } from './harness.ts';

describe('cancel and retry', () => {
  let h: ApiHarness;
  let releaseGate: () => void = () => {};
  let gateReached = false;
  let rejecting = true;
  beforeAll(async () => {
    const gated = scriptedManager({
      upload: async (batch) => {
        gateReached = true;
        await new Promise<void>((resolve) => (releaseGate = resolve));
        return { outcomes: batch.jobIds.map((jobId) => ({ jobId, kind: 'succeeded' as const })) };
      },
    }, 'gated');
    const picky = scriptedManager({
      upload: async (batch) => ({
        outcomes: batch.jobIds.map((jobId) => (rejecting
          ? { jobId, kind: 'aborted' as const, reason: 'vendor rejected the record: quota exceeded' }
          : { jobId, kind: 'succeeded' as const })),
      }),
    }, 'picky');
    h = await startHarness({
      destinations: [
        { id: 'parked', manager: scriptedManager().manager, routed: false },
        { id: 'gated', manager: gated.manager },
        { id: 'picky', manager: picky.manager },
        { id: 'fast', manager: scriptedManager().manager },
      ],
    });
  });
  afterAll(async () => {
    releaseGate();
    await h.close();
  });

  const job = async (id: string) => (await h.call('GET', `/v1/jobs/${id}`)).body;
  const submission = async (id: string) => (await h.call('GET', `/v1/submissions/${id}`)).body;

  it('DELETE /jobs/{id}: 200 for a waiting job, 410 once final, 404 when unknown', async () => {
    const accepted = await submit(h, 'parked', 2);
    const [first] = accepted.body.jobIds as string[];
    const cancelled = await h.call('DELETE', `/v1/jobs/${first}`);
    expect(cancelled.status).toBe(200);
    expect(cancelled.body).toMatchObject({ id: first, state: 'cancelled', reason: expect.stringContaining('cancelled through the API') });
    const again = await h.call('DELETE', `/v1/jobs/${first}`);
    expect(again.status).toBe(410);
    expect((await h.call('DELETE', '/v1/jobs/987654321')).status).toBe(404);
  });

  it('DELETE answers 409 while a job is being uploaded, for the job and for its submission', async () => {
    const accepted = await submit(h, 'gated', 1);
    const [id] = accepted.body.jobIds as string[];
    await waitFor(() => gateReached, { message: 'the upload has started' });
    const res = await h.call('DELETE', `/v1/jobs/${id}`);
    expect(res.status).toBe(409);
    expect(res.body.message).toContain('executing');
    expect((await h.call('DELETE', `/v1/submissions/${accepted.body.submissionId}`)).status).toBe(409);
    releaseGate();
    await waitFor(async () => (await job(id!)).state === 'succeeded', { message: 'the gated job succeeds' });
    expect((await h.call('DELETE', `/v1/jobs/${id}`)).status).toBe(410);
    expect((await h.call('DELETE', `/v1/submissions/${accepted.body.submissionId}`)).status).toBe(410);
  });

  it('DELETE /submissions/{id} cancels what waits and shows the resource; the state becomes cancelled', async () => {
    const accepted = await submit(h, 'parked', 3);
    const res = await h.call('DELETE', `/v1/submissions/${accepted.body.submissionId}`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: accepted.body.submissionId, state: 'cancelled', done: true, counts: { cancelled: 3, total: 3 } });
    expect(res.body.errors).toHaveLength(3);
    expect((await h.call('DELETE', `/v1/submissions/${accepted.body.submissionId}`)).status).toBe(410);
    expect((await h.call('DELETE', '/v1/submissions/sub_unknown')).status).toBe(404);
  });

  it('POST /jobs/{id}/retry requeues an aborted job (reopening its submission) and refuses others with 409', async () => {
    rejecting = true;
    const accepted = await submit(h, 'picky', 2);
    const [id] = accepted.body.jobIds as string[];
    await waitFor(async () => (await submission(accepted.body.submissionId)).state === 'failed', { message: 'the submission fails' });
    // Let the callback loop record the final state, so the retry has something to reopen.
    await waitFor(async () => (await h.db.db.selectFrom('br_submissions').select('state').where('id', '=', accepted.body.submissionId).executeTakeFirst())?.state === 'failed',
      { message: 'the final state is recorded' });
    rejecting = false;
    const retried = await h.call('POST', `/v1/jobs/${id}/retry`);
    expect(retried.status).toBe(200);
    expect(['waiting', 'executing', 'succeeded']).toContain(retried.body.state);
    expect(retried.body.lastError).toContain('quota exceeded');
    await waitFor(async () => (await job(id!)).state === 'succeeded', { message: 'the retried job succeeds' });
    await waitFor(async () => (await submission(accepted.body.submissionId)).state === 'partial', { message: 'the submission is partial now' });
    const notAborted = await h.call('POST', `/v1/jobs/${id}/retry`);
    expect(notAborted.status).toBe(409);
    expect(notAborted.body.message).toContain('succeeded');
    expect((await h.call('POST', '/v1/jobs/123456789/retry')).status).toBe(404);
  });

  it('POST /destinations/{id}/retry requeues aborted jobs matching the reason filter', async () => {
    rejecting = true;
    const accepted = await submit(h, 'picky', 4);
    await waitFor(async () => (await submission(accepted.body.submissionId)).state === 'failed', { message: 'all four are aborted' });
    rejecting = false;
    const none = await h.call('POST', '/v1/destinations/picky/retry', { body: { reasonContains: 'no such reason' } });
    expect(none.body).toEqual({ requeued: 0, jobIds: [] });
    const res = await h.call('POST', '/v1/destinations/picky/retry', { body: { reasonContains: 'QUOTA', finishedAfter: new Date(Date.now() - 600_000).toISOString() } });
    expect(res.status).toBe(200);
    expect(res.body.requeued).toBeGreaterThanOrEqual(4);
    expect(res.body.jobIds).toEqual(expect.arrayContaining(accepted.body.jobIds));
    await waitFor(async () => (await submission(accepted.body.submissionId)).state === 'completed', { message: 'the submission completes after the retry' });
    expect((await h.call('POST', '/v1/destinations/nowhere/retry', { body: {} })).status).toBe(404);
    expect((await h.call('POST', '/v1/destinations/picky/retry', { body: { finishedAfter: 'last week' } })).status).toBe(400);
  });
});
