import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scriptedManager } from '../helpers/scripted-manager.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { databaseForFile } from '../helpers/file-database.ts';
import { startHarness, submit, type ApiHarness } from './harness.ts';
import { openSse, type SseEvent } from './sse-client.ts';

async function rest(next: () => Promise<SseEvent | undefined>): Promise<SseEvent[]> {
  const events: SseEvent[] = [];
  for (let e = await next(); e; e = await next()) events.push(e);
  return events;
}

// One database for the file's harnesses: each empties it as it starts (cloning one per harness
// was most of these tests' set-up time on a busy server).
const database = databaseForFile({ emptyBeforeEach: false });

describe('Server-Sent Events', () => {
  let h: ApiHarness;
  let releaseGate: () => void = () => {};
  let gateReached = false;
  beforeAll(async () => {
    const gated = scriptedManager({
      upload: async (batch) => {
        gateReached = true;
        await new Promise<void>((resolve) => (releaseGate = resolve));
        return { outcomes: batch.jobIds.map((jobId) => ({ jobId, kind: 'succeeded' as const })) };
      },
    }, 'gated');
    h = await startHarness({
      database,
      destinations: [{ id: 'gated', manager: gated.manager }, { id: 'fast', manager: scriptedManager().manager }, { id: 'parked', manager: scriptedManager().manager, routed: false }],
      env: { BATCH_ROUTER_SSE_HEARTBEAT_MS: '100' },
    });
  });
  afterAll(async () => {
    releaseGate();
    await h.close();
  });

  it('streams progress events, then one terminal completed event with the final state, then closes', async () => {
    const accepted = await submit(h, 'gated', 3);
    const stream = await openSse(`${h.url}/v1/submissions/${accepted.body.submissionId}/events`);
    expect(stream.status).toBe(200);
    expect(stream.contentType).toMatch(/^text\/event-stream/);
    const first = await stream.next();
    expect(first).toMatchObject({ event: 'progress', data: { id: accepted.body.submissionId, state: 'pending', done: false } });
    await waitFor(() => gateReached, { message: 'the upload started' });
    releaseGate();
    const events = [first!, ...(await rest(stream.next))];
    await stream.ended;
    expect(events.at(-1)).toMatchObject({ event: 'completed', data: { state: 'completed', done: true, progress: 100, counts: { succeeded: 3, total: 3 } } });
    expect(events.filter((e) => e.event === 'completed')).toHaveLength(1);
    expect(events.slice(0, -1).every((e) => e.event === 'progress' && e.data.done === false)).toBe(true);
    // Ids count up, so a client can tell events apart.
    expect(events.map((e) => Number(e.id))).toEqual(events.map((_, i) => i + 1));
  });

  it('gives a late subscriber the terminal event at once', async () => {
    const accepted = await submit(h, 'fast', 2, { headers: { Prefer: 'wait=10' } });
    expect(accepted.body.state).toBe('completed');
    const stream = await openSse(`${h.url}/v1/submissions/${accepted.body.submissionId}/events`);
    const events = await rest(stream.next);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ event: 'completed', data: { state: 'completed', counts: { succeeded: 2 } } });
  });

  it('sends heartbeat comments while nothing changes', async () => {
    const accepted = await submit(h, 'parked', 1);
    const stream = await openSse(`${h.url}/v1/submissions/${accepted.body.submissionId}/events`);
    expect((await stream.next())?.event).toBe('progress');
    await waitFor(() => stream.comments.filter((c) => c.startsWith('heartbeat')).length >= 2, { message: 'two heartbeats' });
    stream.close();
  });

  it('streams an upload until it is finished', async () => {
    gateReached = false;
    const accepted = await submit(h, 'gated', 1);
    await waitFor(() => gateReached, { message: 'the upload started' });
    const job = await h.call('GET', `/v1/jobs/${accepted.body.jobIds[0]}`);
    const stream = await openSse(`${h.url}/v1/uploads/${job.body.uploadId}/events`);
    expect(await stream.next()).toMatchObject({ event: 'progress', data: { id: job.body.uploadId, state: 'uploading', counts: { executing: 1 } } });
    releaseGate();
    const events = await rest(stream.next);
    expect(events.at(-1)).toMatchObject({ event: 'completed', data: { state: 'finished', counts: { succeeded: 1 } } });
  });

  it('answers 404 as JSON for an unknown resource', async () => {
    const res = await h.call('GET', '/v1/submissions/sub_missing/events');
    expect(res.status).toBe(404);
    expect(res.body.error).toBe('not_found');
  });
});

describe('SSE and shutdown', () => {
  it('ends open streams when the API stops, so stopping never waits on a client', async () => {
    const h = await startHarness({ database, destinations: [{ id: 'parked', manager: scriptedManager().manager, routed: false }] });
    try {
      const accepted = await submit(h, 'parked', 1);
      const stream = await openSse(`${h.url}/v1/submissions/${accepted.body.submissionId}/events`);
      expect((await stream.next())?.event).toBe('progress');
      await h.api.stop();
      await stream.ended;
      expect(await stream.next()).toBeUndefined();
    } finally {
      await h.close();
    }
  });
});
