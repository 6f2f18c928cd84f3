import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { scriptedManager } from '../helpers/scripted-manager.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { startHarness, submit, type ApiHarness } from './harness.ts';

async function jobCount(h: ApiHarness, destinationId: string): Promise<number> {
  const { rows } = await sql<{ n: string }>`SELECT count(*) AS n FROM br_jobs WHERE destination_id = ${destinationId}`.execute(h.db.db);
  return Number(rows[0]!.n);
}

describe('POST /v1/destinations/{id}/events', () => {
  let h: ApiHarness;
  let release: () => void = () => {};
  let slowStarted = false;
  beforeAll(async () => {
    const slow = scriptedManager({
      upload: async (batch) => {
        slowStarted = true;
        await new Promise<void>((resolve) => (release = resolve));
        return { outcomes: batch.jobIds.map((jobId) => ({ jobId, kind: 'succeeded' as const })) };
      },
    }, 'slow');
    h = await startHarness({
      destinations: [
        { id: 'fast', manager: scriptedManager().manager },
        { id: 'slow', manager: slow.manager },
        { id: 'parked', manager: scriptedManager().manager, routed: false },
        { id: 'off', manager: scriptedManager().manager, enabled: false },
        { id: 'broken', manager: scriptedManager().manager, error: 'destination "broken": field "config.url" is required' },
      ],
    });
  });
  afterAll(async () => {
    release();
    await h.close();
  });

  it('answers 202 at once with Location, Retry-After and one job id per event, in order', async () => {
    const res = await submit(h, 'parked', 3);
    expect(res.status).toBe(202);
    expect(res.body.submissionId).toMatch(/^sub_/);
    expect(res.body.state).toBe('pending');
    expect(res.headers.get('location')).toBe(`/v1/submissions/${res.body.submissionId}`);
    expect(res.body.statusUrl).toBe(res.headers.get('location'));
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(res.body.jobIds).toHaveLength(3);
    const rows = await h.db.db.selectFrom('br_jobs').select(['id', 'submission_id']).where('id', 'in', res.body.jobIds).orderBy('id').execute();
    expect(rows.map((r) => r.id)).toEqual(res.body.jobIds);
    expect(rows.every((r) => r.submission_id === res.body.submissionId)).toBe(true);
  });

  it('accepts 10,000 events in one request, and refuses 10,001 naming the field', async () => {
    const ok = await submit(h, 'parked', 10_000);
    expect(ok.status).toBe(202);
    expect(new Set(ok.body.jobIds).size).toBe(10_000);
    const before = await jobCount(h, 'parked');
    const tooMany = await submit(h, 'parked', 10_001);
    expect(tooMany.status).toBe(400);
    expect(tooMany.body.field).toBe('events');
    expect(tooMany.body.message).toMatch(/events.*10000/);
    expect(await jobCount(h, 'parked')).toBe(before);
  });

  it('answers 404 for an unknown destination, 409 for a disabled or broken one, writing nothing', async () => {
    expect((await submit(h, 'nowhere', 1)).status).toBe(404);
    const off = await submit(h, 'off', 1);
    expect(off.status).toBe(409);
    expect(off.body.error).toBe('destination_disabled');
    expect(off.body.message).toContain('disabled');
    const broken = await submit(h, 'broken', 1);
    expect(broken.status).toBe(409);
    expect(broken.body.error).toBe('destination_invalid');
    expect(broken.body.message).toContain('destination "broken" has an invalid configuration');
    expect(broken.body.message).not.toContain('config.url'); // configuration details stay in the log
    expect(await jobCount(h, 'off')).toBe(0);
    expect(await jobCount(h, 'broken')).toBe(0);
  });

  it('refuses malformed JSON, wrong types and unknown fields with 400 naming the field, never 5xx', async () => {
    const before = await jobCount(h, 'parked');
    const cases: Array<[string, string, string | undefined]> = [
      ['{"events": [{"a": 1}', 'invalid_json', 'body'],
      ['', 'invalid_json', 'body'],
      ['[]', 'invalid_request', undefined],
      ['{"events": "not a list"}', 'invalid_request', 'events'],
      ['{"events": []}', 'invalid_request', 'events'],
      ['{"events": [{"ok": true}, 42, {"ok": true}]}', 'invalid_request', 'events[1]'],
      ['{"events": [{"ok": true}], "extra": 1}', 'invalid_request', 'extra'],
      ['{"events": [{"ok": true}], "callback": {"url": 7}}', 'invalid_request', 'callback.url'],
      ['{"events": [{"ok": true}], "callback": {}}', 'invalid_request', 'callback.url'],
      ['{"events": [{"ok": true}], "callback": {"url": "ftp://example.com/x"}}', 'invalid_request', 'callback.url'],
      ['{"events": [{"ok": true}, {"text": "nul \\u0000 here"}]}', 'invalid_request', 'events[1]'],
      ['{"events": [{"__proto__": {"polluted": true}}]}', 'invalid_json', 'body'],
    ];
    for (const [raw, error, field] of cases) {
      const res = await h.call('POST', '/v1/destinations/parked/events', { raw });
      expect(res.status, raw).toBe(400);
      expect(res.body.error, raw).toBe(error);
      if (field) expect(res.body.field, raw).toBe(field);
      expect(res.body.message, raw).toBeTruthy();
      expect(res.text, raw).not.toMatch(/at .*\.ts:\d+/); // no stack traces
    }
    expect(await jobCount(h, 'parked')).toBe(before);
  });

  it('answers 415 to a body that is not JSON', async () => {
    const res = await h.call('POST', '/v1/destinations/parked/events', { raw: 'events=1', headers: { 'content-type': 'text/plain' } });
    expect(res.status).toBe(415);
  });

  it('returns the original submission (200) for a repeated Idempotency-Key and body, 422 for another body', async () => {
    const headers = { 'Idempotency-Key': 'order-batch-42' };
    const first = await submit(h, 'parked', 2, { headers });
    expect(first.status).toBe(202);
    const again = await submit(h, 'parked', 2, { headers });
    expect(again.status).toBe(200);
    expect(again.body.submissionId).toBe(first.body.submissionId);
    expect(again.body.jobIds).toEqual(first.body.jobIds);
    expect(again.headers.get('location')).toBe(first.headers.get('location'));
    const different = await submit(h, 'parked', 3, { headers });
    expect(different.status).toBe(422);
    expect(different.body.field).toBe('Idempotency-Key');
    const { rows } = await sql<{ n: string }>`SELECT count(*) AS n FROM br_submissions WHERE id = ${first.body.submissionId}`.execute(h.db.db);
    expect(Number(rows[0]!.n)).toBe(1);
    expect((await submit(h, 'parked', 1, { headers: { 'Idempotency-Key': ' ' } })).status).toBe(400);
  });

  it('enqueues once when the same Idempotency-Key races', async () => {
    const headers = { 'Idempotency-Key': 'race-1' };
    const answers = await Promise.all(Array.from({ length: 6 }, () => submit(h, 'parked', 5, { headers })));
    expect(answers.map((a) => a.status).sort()).toEqual([200, 200, 200, 200, 200, 202]);
    expect(new Set(answers.map((a) => a.body.submissionId)).size).toBe(1);
    const { rows } = await sql<{ n: string }>`SELECT count(*) AS n FROM br_jobs WHERE submission_id = ${answers[0]!.body.submissionId}`.execute(h.db.db);
    expect(Number(rows[0]!.n)).toBe(5);
  });

  it('with Prefer: wait=N answers 200 with the final state when the jobs finish in time', async () => {
    const res = await submit(h, 'fast', 4, { headers: { Prefer: 'respond-async, wait=10' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('preference-applied')).toBe('wait=10');
    expect(res.headers.get('vary')).toBe('Prefer');
    expect(res.body.state).toBe('completed');
    expect(res.body.submission).toMatchObject({ state: 'completed', done: true, progress: 100, counts: { succeeded: 4, total: 4 } });
  });

  it('with Prefer: wait=N answers 202 once N seconds pass without a final state', async () => {
    const started = Date.now();
    const res = await submit(h, 'slow', 1, { headers: { Prefer: 'respond-async, wait=1' } });
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(res.status).toBe(202);
    expect(res.headers.get('preference-applied')).toBe('respond-async');
    expect(res.body.submission).toMatchObject({ state: 'pending', done: false });
    await waitFor(() => slowStarted, { message: 'the slow upload started' });
    release();
    await waitFor(async () => (await h.call('GET', `/v1/submissions/${res.body.submissionId}`)).body.state === 'completed', { message: 'the slow submission completes' });
  });

  it('refuses bodies over the size limit with 413', async () => {
    const big = { events: [{ blob: 'x'.repeat(11 * 1024 * 1024) }] };
    const res = await h.call('POST', '/v1/destinations/parked/events', { body: big });
    expect(res.status).toBe(413);
    expect(res.body.message).toContain('10485760');
  });
});
