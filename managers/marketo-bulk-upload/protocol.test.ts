/**
 * The manager keeps to Marketo's documented protocol, and the env.fake holds it to it: the 10 MB limit
 * on the whole multipart request, the token only in the Authorization header, a token renewed
 * early really being a new one, and every documented error code mapped to its documented meaning.
 */
import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../src/manager/error-codes.ts';
import { ConfigError, PermanentError, RetryableError, SnoozeError, type RouterError } from '../../src/manager/errors.ts';
import { openSession } from '../../test/conformance/harness.ts';
import { waitFor } from '../../test/helpers/wait-for.ts';
import { TUNING_DEFAULTS } from '../../src/tuning.ts';
import { TokenCache } from '../_bulk-csv/token-cache.ts';
import marketo from './index.ts';
import { leads, marketoTestEnv, uploadTo } from './test/helpers.ts';
import type { MarketoFakeOptions } from './test/marketo-fake.ts';

describe('marketo-bulk-upload keeps to the documented protocol', () => {
  const env = marketoTestEnv();
  const start = (options: MarketoFakeOptions = {}) => env.start(options);
  const failure = (promise: Promise<unknown>) => promise.then(() => expect.fail('expected a failure'), (error: unknown) => error as RouterError);

  // About 21 MB is built, sent and parsed in this process (1-2 s idle); the cap only ends a hung
  // run, and stays above the upload's own deadline (uploadTo) so that one reports first.
  it('keeps the whole multipart request within 10,000,000 bytes when the file is as large as allowed', { timeout: TUNING_DEFAULTS.uploadTimeoutMs + 60_000 }, async () => {
    await start();
    // ~10.4 MB of CSV: two files, the first filled to the last row that fits in one request.
    const events = Array.from({ length: 26_000 }, (_, i) => ({ email: `user-${String(i).padStart(6, '0')}@example.com`, firstName: 'x'.repeat(370) }));
    const { result } = await uploadTo(env.fake, env.stagingDir, events, { maxFileBytes: 10_000_000 });
    expect(result.outcomes).toEqual([]);
    const sizes = env.fake.requests('upload').map((r) => ({ status: r.status, bytes: r.bodyBytes }));
    expect(sizes.map((s) => s.status)).toEqual([200, 200]);
    expect(sizes[0]!.bytes).toBeLessThanOrEqual(10_000_000);
    // Full to within one row: the envelope, not a round number, is what the file gave up.
    expect(sizes[0]!.bytes).toBeGreaterThan(10_000_000 - 420);
    expect([...env.fake.imports.values()].reduce((sum, imp) => sum + imp.rows, 0)).toBe(26_000);
  });

  it('the env.fake answers 413 to a request one byte over 10,000,000', async () => {
    await start({ maxRequestBytes: 10_000_000 });
    const body = Buffer.alloc(10_000_001, 'a');
    const answer = await fetch(`${env.fake.url}/bulk/v1/leads.json?format=csv`, { method: 'POST', body, headers: { 'content-type': 'multipart/form-data; boundary=x' } });
    expect(answer.status).toBe(413);
  });

  it('renews a token near its expiry by waiting it out: Marketo hands back the same token until then', async () => {
    await start({ tokenTtlSeconds: 3 });
    const session = openSession(marketo, marketo.configSchema.parse(env.fake.config()));
    await uploadTo(env.fake, env.stagingDir, leads(1), {}, session);
    const first = env.fake.requests('upload')[0]!.authorization;
    // Within the renewal margin (a tenth of the 3 s lifetime) the cache asks again, gets the same
    // token with 0 s left, waits for it to lapse and asks once more.
    await waitFor(() => Date.now() >= env.fake.tokenExpiresAt - 150, { message: 'the token to enter its renewal margin' });
    await uploadTo(env.fake, env.stagingDir, leads(1, 'v'), {}, session);
    const second = env.fake.requests('upload')[1]!;
    expect(second.authorization).not.toBe(first);
    expect(second.status).toBe(200);
    expect(env.fake.codesSent).not.toContain('602');
    expect(env.fake.tokens.issued).toBe(2);
  });

  it('TokenCache waits out a handed-back token instead of using it', async () => {
    let clock = 0;
    const slept: number[] = [];
    const answers = [{ token: 'a', expiresInMs: 3_600_000 }, { token: 'a', expiresInMs: 10_000 }, { token: 'b', expiresInMs: 3_600_000 }];
    const cache = new TokenCache(async () => answers.shift()!, () => clock, { renewWithinMs: 15_000, sleep: async (ms) => void slept.push(ms) });
    const signal = new AbortController().signal;
    expect(await cache.get(signal)).toBe('a');
    clock = 3_590_000; // 10 s left: inside the 15 s margin
    expect(await cache.get(signal)).toBe('b');
    expect(slept).toEqual([11_000]);
  });

  it('sends the token only as a Bearer header; the env.fake refuses the retired access_token parameter', async () => {
    await start();
    await uploadTo(env.fake, env.stagingDir, leads(1));
    for (const request of env.fake.requests()) expect(request.url).not.toMatch(/access_token|client_secret/);
    const token = env.fake.requests('upload')[0]!.authorization!.replace(/^Bearer /, '');
    const answer = await fetch(`${env.fake.url}/bulk/v1/leads/batch/1000.json?access_token=${encodeURIComponent(token)}`);
    expect(await answer.json()).toMatchObject({ success: false, errors: [{ code: '601' }] });
  });

  it('the env.fake enforces the multipart request: content type (612), file part (613), format (701)', async () => {
    await start();
    await uploadTo(env.fake, env.stagingDir, leads(1));
    const authorization = env.fake.requests('upload')[0]!.authorization!;
    const post = async (body: BodyInit, headers: Record<string, string> = {}, query = '') =>
      (await (await fetch(`${env.fake.url}/bulk/v1/leads.json${query}`, { method: 'POST', body, headers: { authorization, ...headers } })).json()) as { errors: Array<{ code: string }> };
    expect((await post('email\na@b.c\n', { 'content-type': 'text/csv' })).errors[0]!.code).toBe('612');
    const noFile = new FormData();
    noFile.set('format', 'csv');
    expect((await post(noFile)).errors[0]!.code).toBe('613');
    const noFormat = new FormData();
    noFormat.set('file', new Blob(['email\na@b.c\n'], { type: 'text/csv' }), 'a.csv');
    expect((await post(noFormat)).errors[0]!.code).toBe('701');
  });

  it('meets the env.fake\'s own 606, 615 and 607 with the documented verdicts', async () => {
    await start({ rateLimit: { calls: 1, windowMs: 60_000 } });
    await uploadTo(env.fake, env.stagingDir, leads(1));
    const limited = await failure(uploadTo(env.fake, env.stagingDir, leads(1, 'v')));
    expect(limited).toMatchObject({ code: ERROR_CODES.rateLimited, vendorCode: '606', retryAfterMs: 20_000 });
    await env.fake.close();
    await start({ dailyQuota: 1 });
    await uploadTo(env.fake, env.stagingDir, leads(1));
    const quota = await failure(uploadTo(env.fake, env.stagingDir, leads(1, 'v')));
    expect(quota).toBeInstanceOf(SnoozeError);
    expect(quota).toMatchObject({ vendorCode: '607', code: ERROR_CODES.vendorBusy });
    await env.fake.close();
    let release!: () => void;
    await start({ concurrency: 1, holdCalls: new Promise<void>((resolve) => (release = resolve)) });
    const uploads = Promise.allSettled([uploadTo(env.fake, env.stagingDir, leads(1)), uploadTo(env.fake, env.stagingDir, leads(1, 'v'))]);
    // One upload is held inside the fake until the other has met the limit, however slow either is.
    try {
      await waitFor(() => env.fake.codesSent.includes('615'), { message: 'the second upload to meet the concurrency limit' });
    } finally {
      release(); // also when the wait fails, so the held call does not keep the fake from closing
    }
    const both = await uploads;
    const refused = both.flatMap((r) => (r.status === 'rejected' ? [r.reason as RetryableError] : []));
    expect(refused).toHaveLength(1);
    expect(refused[0]).toMatchObject({ vendorCode: '615', code: ERROR_CODES.rateLimited, retryAfterMs: 5_000 });
    expect(env.fake.codesSent).toEqual(['615']);
  });

  // Every code the manager maps, as Marketo documents it (Error Codes; Bulk Lead Import).
  const documented: Array<[code: string, kind: new (...args: never[]) => RouterError, field?: string]> = [
    ['601', RetryableError], ['602', RetryableError], ['502', RetryableError], ['604', RetryableError], ['608', RetryableError],
    ['611', RetryableError], ['614', RetryableError], ['713', RetryableError], ['719', RetryableError],
    ['606', RetryableError], ['615', RetryableError], ['607', SnoozeError], ['1016', SnoozeError], ['1019', SnoozeError], ['1029', SnoozeError],
    ['603', ConfigError, 'clientId'], ['1006', ConfigError, 'fieldMapping'], ['1011', ConfigError, 'lookupField'],
    ['1008', ConfigError, 'partitionName'], ['1009', ConfigError, 'partitionName'], ['1010', ConfigError, 'partitionName'],
    ['1013', ConfigError, 'listId'], ['605', PermanentError], ['609', PermanentError], ['610', PermanentError], ['612', PermanentError],
    ['613', PermanentError], ['701', PermanentError], ['1003', PermanentError],
  ];
  for (const [code, kind, field] of documented) {
    it(`maps Marketo ${code} on an import to ${kind.name}${field ? ` on "${field}"` : ''}`, async () => {
      await start();
      env.fake.failWith('upload', code, `documented ${code}`, 2);
      const error = await failure(uploadTo(env.fake, env.stagingDir, leads(1), { listId: 7, queueFullRetryMs: 4321 }));
      expect(error).toBeInstanceOf(kind);
      expect(error.vendorCode).toBe(code);
      expect(error.message).toContain(`documented ${code}`);
      if (field) expect((error as ConfigError).field).toBe(field);
      if (error instanceof SnoozeError && code !== '607') expect((error as SnoozeError).retryAfterMs).toBe(4321);
    });
  }

  it('retries a code Marketo does not document (600) rather than giving it a meaning', async () => {
    await start();
    env.fake.failWith('upload', '600', 'Access token not specified');
    const error = await failure(uploadTo(env.fake, env.stagingDir, leads(1)));
    expect(error).toBeInstanceOf(RetryableError);
    expect(error).toMatchObject({ code: ERROR_CODES.badVendorResponse, vendorCode: '600' });
    expect(env.fake.tokens.issued).toBe(1); // no token refresh on an undocumented code
  });
});
