import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scriptedManager } from '../helpers/scripted-manager.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { startHarness, submit, type ApiHarness } from './harness.ts';

describe('reading submissions, jobs, uploads and destinations', () => {
  let h: ApiHarness;
  beforeAll(async () => {
    h = await startHarness({
      destinations: [
        { id: 'fast', manager: scriptedManager().manager },
        { id: 'parked', manager: scriptedManager().manager, routed: false },
        { id: 'pages', manager: scriptedManager().manager, routed: false },
      ],
    });
  });
  afterAll(() => h.close());

  async function finalState(id: string) {
    return waitFor(async () => {
      const res = await h.call('GET', `/v1/submissions/${id}`);
      return res.body.done ? res.body : undefined;
    }, { message: `submission ${id} is final` });
  }

  it('shows a pending submission with progress, then its final counts; 303 to its jobs once done', async () => {
    const parked = await submit(h, 'parked', 2);
    const pending = await h.call('GET', `/v1/submissions/${parked.body.submissionId}?onComplete=redirect`);
    expect(pending.status).toBe(200); // not done: the status, never a redirect
    expect(pending.headers.get('retry-after')).toBe('1');
    expect(pending.body).toMatchObject({ state: 'pending', done: false, progress: 0, completedAt: null, destinationId: 'parked', counts: { waiting: 2, total: 2 } });

    const accepted = await submit(h, 'fast', 3);
    const final = await finalState(accepted.body.submissionId);
    expect(final).toMatchObject({ state: 'completed', progress: 100, counts: { succeeded: 3, total: 3 }, errors: [] });
    expect(Date.parse(final.completedAt)).toBeGreaterThanOrEqual(Date.parse(final.createdAt));
    const redirect = await h.call('GET', `/v1/submissions/${accepted.body.submissionId}?onComplete=redirect`);
    expect(redirect.status).toBe(303);
    const location = redirect.headers.get('location')!;
    expect(location).toBe(`/v1/jobs?submissionId=${accepted.body.submissionId}`);
    const result = await h.call('GET', location);
    expect(result.body.jobs.map((j: { id: string }) => j.id).sort()).toEqual([...accepted.body.jobIds].sort());
  });

  it('derives partial and failed from the jobs, listing the first reasons', async () => {
    const mixed = await h.call('POST', '/v1/destinations/fast/events', { body: { events: [{ ok: 1 }, { bad: true }, { ok: 2 }] } });
    const partial = await finalState(mixed.body.submissionId);
    expect(partial.state).toBe('partial');
    expect(partial.counts).toMatchObject({ succeeded: 2, aborted: 1 });
    expect(partial.errors).toEqual([{ jobId: mixed.body.jobIds[1], state: 'aborted', reason: expect.stringContaining('field "bad" is set') }]);
    const allBad = await h.call('POST', '/v1/destinations/fast/events', { body: { events: [{ bad: true }] } });
    expect((await finalState(allBad.body.submissionId)).state).toBe('failed');
  });

  it('answers 404 for unknown ids, including malformed ones', async () => {
    for (const path of ['/v1/submissions/sub_nope', '/v1/jobs/999999999', '/v1/jobs/abc', '/v1/uploads/424242', '/v1/uploads/x', '/v1/destinations/nowhere']) {
      const res = await h.call('GET', path);
      expect(res.status, path).toBe(404);
      expect(res.body.error, path).toBe('not_found');
    }
  });

  it('shows one job with its state, attempts, upload and timestamps', async () => {
    const accepted = await submit(h, 'fast', 1);
    await finalState(accepted.body.submissionId);
    const job = await h.call('GET', `/v1/jobs/${accepted.body.jobIds[0]}`);
    expect(job.status).toBe(200);
    expect(job.body).toMatchObject({ id: accepted.body.jobIds[0], destinationId: 'fast', state: 'succeeded', attempts: 1, submissionId: accepted.body.submissionId, payload: { id: 'e-0', n: 0 } });
    expect(job.body.uploadId).toMatch(/^\d+$/);
    expect(job.body.finishedAt).not.toBeNull();

    const upload = await h.call('GET', `/v1/uploads/${job.body.uploadId}`);
    expect(upload.status).toBe(200);
    expect(upload.body).toMatchObject({ id: job.body.uploadId, destinationId: 'fast', state: 'finished', counts: { succeeded: 1 }, imports: [] });
  });

  it('filters the job list and rejects bad filters with 400', async () => {
    const accepted = await submit(h, 'parked', 3);
    const bySubmission = await h.call('GET', `/v1/jobs?submissionId=${accepted.body.submissionId}&state=waiting,executing`);
    expect(bySubmission.body.jobs.map((j: { id: string }) => j.id)).toEqual([...accepted.body.jobIds].reverse());
    expect(bySubmission.body.nextCursor).toBeNull();
    const none = await h.call('GET', `/v1/jobs?submissionId=${accepted.body.submissionId}&state=succeeded`);
    expect(none.body.jobs).toEqual([]);
    const future = new Date(Date.now() + 3_600_000).toISOString();
    expect((await h.call('GET', `/v1/jobs?destinationId=parked&createdAfter=${future}`)).body.jobs).toEqual([]);
    expect((await h.call('GET', `/v1/jobs?destinationId=parked&updatedBefore=${future}&limit=1`)).body.jobs).toHaveLength(1);
    for (const query of ['state=lost', 'limit=0', 'limit=5000', 'limit=ten', 'createdAfter=yesterday', 'cursor=bm9wZQ', 'color=red']) {
      const res = await h.call('GET', `/v1/jobs?${query}`);
      expect(res.status, query).toBe(400);
      expect(res.body.field, query).toBeTruthy();
    }
  });

  it('pages through jobs with a stable cursor while new jobs keep arriving', async () => {
    const original = (await submit(h, 'pages', 250)).body.jobIds as string[];
    let paging = true;
    let added = 0;
    // A producer keeps inserting into the same destination for as long as the pages are read.
    const producer = (async () => {
      while (paging) {
        expect((await submit(h, 'pages', 7)).status).toBe(202);
        added += 7;
      }
    })();
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { body: { jobs: Array<{ id: string }>; nextCursor: string | null } } =
        await h.call('GET', `/v1/jobs?destinationId=pages&limit=40${cursor ? `&cursor=${cursor}` : ''}`);
      seen.push(...page.body.jobs.map((j) => j.id));
      cursor = page.body.nextCursor;
      await waitFor(() => added > seen.length / 10, { message: 'the producer keeps up' });
    } while (cursor);
    paging = false;
    await producer;
    expect(added).toBeGreaterThan(0);
    const newest = BigInt(original[original.length - 1]!);
    const fromOriginal = seen.filter((id) => BigInt(id) <= newest);
    expect(new Set(seen).size).toBe(seen.length);
    expect(fromOriginal.sort()).toEqual([...original].sort());
    expect(seen.map(BigInt)).toEqual([...seen.map(BigInt)].sort((a, b) => (a > b ? -1 : 1)));
  });

  it('describes destinations with health, backlog and throughput', async () => {
    const list = await h.call('GET', '/v1/destinations');
    expect(list.body.destinations.map((d: { id: string }) => d.id)).toEqual(['fast', 'parked', 'pages']);
    const fast = await h.call('GET', '/v1/destinations/fast');
    expect(fast.body).toMatchObject({ id: 'fast', manager: 'scripted', enabled: true, status: 'ready', health: { openImports: 0, worker: { running: true } } });
    expect(fast.body.backlog.succeeded).toBeGreaterThan(0);
    expect(fast.body.throughput.succeededPerMinute).toBeGreaterThan(0);
    const parked = await h.call('GET', '/v1/destinations/parked');
    expect(parked.body.health.worker).toBeNull(); // no worker for it in this process
    expect(parked.body.backlog.waiting).toBeGreaterThan(0);
    expect(parked.body.oldestWaitingSeconds).toBeGreaterThanOrEqual(0);
  });
});
