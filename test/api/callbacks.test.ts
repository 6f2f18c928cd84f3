import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CallbackPolicy } from '../../src/api/callbacks/allow-list.ts';
import { startApi } from '../../src/api/index.ts';
import { loadConfig } from '../../src/config.ts';
import { silentLog } from '../helpers/router.ts';
import { scriptedManager } from '../helpers/scripted-manager.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { startReceiver, type Receiver } from './callback-receiver.ts';
import { databaseForFile } from '../helpers/file-database.ts';
import { CALLBACK_SECRET, startHarness, submit, type ApiHarness } from './harness.ts';

/**
 * Standard Webhooks verification written from the spec, independently of src/: decode the
 * whsec_ secret, HMAC-SHA256 "<id>.<timestamp>.<body>", compare with any v1 signature in the
 * space-separated list in constant time, and check the timestamp is recent.
 */
function verifyStandardWebhook(secret: string, headers: IncomingHttpHeaders, body: string): boolean {
  const id = String(headers['webhook-id']);
  const timestamp = String(headers['webhook-timestamp']);
  if (Math.abs(Date.now() / 1000 - Number(timestamp)) > 300) return false;
  const key = Buffer.from(secret.slice(secret.indexOf('_') + 1), 'base64');
  const expected = Buffer.from(createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64'));
  return String(headers['webhook-signature']).split(' ').some((entry) => {
    const [version, signature = ''] = entry.split(',');
    const given = Buffer.from(signature);
    return version === 'v1' && given.length === expected.length && timingSafeEqual(given, expected);
  });
}

// One database for the file's harnesses: each empties it as it starts (cloning one per harness
// was most of these tests' set-up time on a busy server).
const database = databaseForFile({ emptyBeforeEach: false });

describe('completion callbacks', () => {
  let h: ApiHarness;
  let receiver: Receiver;
  beforeAll(async () => {
    receiver = await startReceiver();
    h = await startHarness({ database, destinations: [{ id: 'fast', manager: scriptedManager().manager }, { id: 'parked', manager: scriptedManager().manager, routed: false }] });
  });
  afterAll(async () => {
    await h.close();
    await receiver.close();
  });
  beforeEach(() => {
    receiver.received.length = 0;
  });

  const callbackOf = async (id: string) => (await h.call('GET', `/v1/submissions/${id}`)).body.callback;
  const settled = (id: string, state: string) =>
    waitFor(async () => {
      const callback = await callbackOf(id);
      return callback?.state === state ? callback : undefined;
    }, { message: `callback of ${id} is ${state}` });

  it('posts one signed event when the submission is final, verifiable with the whsec_ secret', async () => {
    // Before the final state there is no event yet: the callback waits.
    const parked = await submit(h, 'parked', 1, { callback: `${receiver.url}/hooks/later` });
    expect(await callbackOf(parked.body.submissionId)).toMatchObject({ url: `${receiver.url}/hooks/later`, id: null, state: 'waiting', attempts: 0 });
    const accepted = await submit(h, 'fast', 2, { callback: `${receiver.url}/hooks/done?x=1` });
    expect(accepted.status).toBe(202);
    const callback = await settled(accepted.body.submissionId, 'delivered');
    expect(callback).toMatchObject({ attempts: 1, lastStatus: 200, lastError: null });
    expect(receiver.received).toHaveLength(1);
    const [request] = receiver.received;
    expect(verifyStandardWebhook(CALLBACK_SECRET, request!.headers, request!.body)).toBe(true);
    expect(verifyStandardWebhook(CALLBACK_SECRET, request!.headers, request!.body.replace('completed', 'failed'))).toBe(false);
    expect(request!.headers['webhook-id']).toBe(callback.id);
    expect(request!.headers['webhook-id']).not.toContain('.');
    expect(request!.headers['content-type']).toBe('application/json');
    const event = JSON.parse(request!.body);
    expect(event).toMatchObject({
      type: 'submission.completed',
      data: { submissionId: accepted.body.submissionId, destinationId: 'fast', state: 'completed', counts: { succeeded: 2, total: 2 }, statusUrl: accepted.body.statusUrl },
    });
    expect(Date.parse(event.timestamp)).not.toBeNaN();
  });

  it('retries failures with the same webhook-id and a fresh timestamp, honouring Retry-After', async () => {
    receiver.script({ status: 500 }, { status: 429, headers: { 'retry-after': '1' } }, { status: 200 });
    const accepted = await submit(h, 'fast', 1, { callback: receiver.url });
    const callback = await settled(accepted.body.submissionId, 'delivered');
    expect(callback).toMatchObject({ attempts: 3, lastStatus: 200 });
    expect(receiver.received).toHaveLength(3);
    expect(new Set(receiver.received.map((r) => r.headers['webhook-id'])).size).toBe(1);
    expect(new Set(receiver.received.map((r) => r.body)).size).toBe(1);
    expect(receiver.received.every((r) => verifyStandardWebhook(CALLBACK_SECRET, r.headers, r.body))).toBe(true);
    // The 429 asked for one second, well over the 100 ms the schedule planned.
    expect(receiver.received[2]!.at - receiver.received[1]!.at).toBeGreaterThanOrEqual(900);
    const stamps = receiver.received.map((r) => Number(r.headers['webhook-timestamp']));
    expect(stamps[2]).toBeGreaterThan(stamps[0]!);
  });

  it('stops at 410 Gone', async () => {
    receiver.script({ status: 410 });
    const accepted = await submit(h, 'fast', 1, { callback: receiver.url });
    const callback = await settled(accepted.body.submissionId, 'gone');
    expect(callback).toMatchObject({ attempts: 1, lastStatus: 410, nextAttemptAt: null });
    expect(receiver.received).toHaveLength(1);
  });

  it('gives up when the schedule is spent, keeping the last status and error; redirects are failures', async () => {
    receiver.script({ status: 302, headers: { location: 'http://169.254.169.254/' } }, { status: 500 }, { status: 503 });
    const accepted = await submit(h, 'fast', 1, { callback: receiver.url });
    const callback = await settled(accepted.body.submissionId, 'failed');
    expect(callback).toMatchObject({ attempts: 3, lastStatus: 503, lastError: expect.stringContaining('503') });
    expect(receiver.received).toHaveLength(3);
  });

  it('refuses callback URLs outside the allow-list at submit, writing nothing', async () => {
    for (const url of ['http://169.254.169.254/latest/meta-data', 'http://10.0.0.7/hook', 'http://[::1]:9/x', 'http://name.invalid/x', 'file:///etc/passwd', 'http://user:pw@127.0.0.1/x']) {
      const res = await submit(h, 'parked', 1, { callback: url });
      expect(res.status, url).toBe(400);
      expect(res.body.field, url).toBe('callback.url');
    }
  });

  it('sends each callback once even with two API processes on one database', async () => {
    const second = await startApi({
      db: h.db.db, log: silentLog, destinations: [], router: undefined,
      config: loadConfig({ DATABASE_URL: h.db.url, PORT: '0', BATCH_ROUTER_API_KEYS_FILE: h.keysFile, BATCH_ROUTER_CALLBACK_SECRET: CALLBACK_SECRET,
        BATCH_ROUTER_CALLBACK_ALLOW_LIST: '127.0.0.1', BATCH_ROUTER_CALLBACK_POLL_MS: '5' }),
    });
    try {
      const accepted = await Promise.all(Array.from({ length: 15 }, () => submit(h, 'fast', 1, { callback: receiver.url })));
      for (const a of accepted) await settled(a.body.submissionId, 'delivered');
      expect(receiver.received).toHaveLength(15);
      expect(new Set(receiver.received.map((r) => r.headers['webhook-id'])).size).toBe(15);
    } finally {
      await second.stop();
    }
  });
});

describe('callback policy defaults', () => {
  it('checks the address a socket connects to, so a name re-pointed at a private address is refused at send time', async () => {
    const lookup = new CallbackPolicy([], false).pinnedLookup();
    const error = await new Promise<NodeJS.ErrnoException | null>((resolve) => lookup('localhost', { all: true }, (err) => resolve(err)));
    expect(error?.code).toBe('EREFUSED');
    const allowed = await new Promise<unknown>((resolve) => new CallbackPolicy(['127.0.0.0/8', '::1'], false).pinnedLookup()('localhost', { all: true }, (err, addresses) => resolve(err ?? addresses)));
    expect(allowed).toEqual(expect.arrayContaining([expect.objectContaining({ address: expect.stringMatching(/^(127\.|::1)/) })]));
  });

  it('refuses loopback callbacks without an allow-list, allows them in development, and refuses callbacks without a secret', async () => {
    const destinations = [{ id: 'parked', manager: scriptedManager().manager, routed: false }];
    const strict = await startHarness({ database, destinations, env: { BATCH_ROUTER_CALLBACK_ALLOW_LIST: '' } });
    try {
      const res = await submit(strict, 'parked', 1, { callback: 'http://127.0.0.1:9/hook' });
      expect(res.status).toBe(400);
      expect(res.body.message).toContain('private, loopback or reserved');
      expect((await submit(strict, 'parked', 1, { callback: 'http://localhost:9/hook' })).status).toBe(400);
    } finally {
      await strict.close();
    }
    const dev = await startHarness({ database, destinations, env: { BATCH_ROUTER_CALLBACK_ALLOW_LIST: '', NODE_ENV: 'development' } });
    try {
      expect((await submit(dev, 'parked', 1, { callback: 'http://127.0.0.1:9/hook' })).status).toBe(202);
    } finally {
      await dev.close();
    }
    const unsigned = await startHarness({ database, destinations, env: { BATCH_ROUTER_CALLBACK_SECRET: '' } });
    try {
      const res = await submit(unsigned, 'parked', 1, { callback: 'http://127.0.0.1:9/hook' });
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ error: 'callbacks_disabled', field: 'callback' });
    } finally {
      await unsigned.close();
    }
  });
});
