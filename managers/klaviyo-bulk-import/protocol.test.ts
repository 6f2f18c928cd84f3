/**
 * The documented protocol, both ways: the fake refuses what Klaviyo refuses (so a manager change
 * that breaks the protocol fails a test), and the manager turns a refused revision into a config
 * error naming `revision` with the fix, not a permanent error that aborts every job.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/manager/errors.ts';
import { buildBatch, callContext, openSession, tempDir } from '../../test/conformance/harness.ts';
import { DEFAULT_REVISION } from './config.ts';
import manager from './index.ts';
import { startKlaviyoFake, type KlaviyoFake } from './test/klaviyo-fake.ts';
import { DEFAULT_RETIRED_BEFORE, RELEASED_REVISIONS } from './test/klaviyo-fake-protocol.ts';

const PATH = '/api/profile-bulk-import-jobs';
const job = (n: number, pad = '') =>
  JSON.stringify({ data: { type: 'profile-bulk-import-job', attributes: { profiles: { data: Array.from({ length: n }, (_, i) => ({ type: 'profile', attributes: { email: `p${i}@example.com`, ...(pad ? { properties: { pad } } : {}) } })) } } } });

describe('the Klaviyo fake refuses what Klaviyo refuses', () => {
  let fake: KlaviyoFake;
  beforeAll(async () => {
    fake = await startKlaviyoFake({ rateLimits: { burst: 1_000, steady: 1_000 } });
  });
  afterAll(() => fake.close());

  const post = (body: string, headers: Record<string, string> = {}) =>
    fetch(`${fake.url}${PATH}`, {
      method: 'POST',
      body,
      headers: { authorization: `Klaviyo-API-Key ${fake.apiKey}`, revision: DEFAULT_REVISION, 'content-type': 'application/vnd.api+json', ...headers },
    });
  const errorOf = async (response: Response) => ((await response.json()) as { errors: Array<Record<string, unknown>> }).errors[0];

  it('names the field of each protocol breach in a JSON:API error body', async () => {
    const cases: Array<[Record<string, string>, number, Record<string, unknown>]> = [
      [{ authorization: `Bearer ${fake.apiKey}` }, 401, { code: 'not_authenticated' }],
      [{ revision: '' }, 400, { source: { parameter: 'revision' } }],
      [{ revision: '2026-02-30' }, 400, { source: { parameter: 'revision' } }],
      [{ revision: '2024-10-15' }, 410, { source: { parameter: 'revision' } }],
      [{ 'content-type': 'application/json' }, 415, { code: 'unsupported_media_type' }],
    ];
    for (const [headers, status, error] of cases) {
      const response = await post(job(1), headers);
      expect(response.status, JSON.stringify(headers)).toBe(status);
      expect(await errorOf(response)).toMatchObject({ id: expect.any(String), status, title: expect.any(String), detail: expect.any(String), ...error });
    }
  });

  it('enforces 10,000 profiles and 5 MB per job', async () => {
    expect((await post(job(10_001))).status).toBe(400);
    expect((await post(job(50, 'x'.repeat(100_001)))).status).toBe(413);
    expect((await post(job(10_000))).status).toBe(202);
  });

  it('answers with the steady window in RateLimit-* headers, and 429 + Retry-After per account', async () => {
    // The steady (one-minute) window is the one that fills: no timing can let the third request through.
    const limited = await startKlaviyoFake({ rateLimits: { burst: 100, steady: 2 } });
    const answers = [];
    try {
      for (let i = 0; i < 3; i += 1) answers.push(await fetch(`${limited.url}${PATH}/none`, { headers: { authorization: `Klaviyo-API-Key ${limited.apiKey}`, revision: DEFAULT_REVISION } }));
    } finally {
      await limited.close();
    }
    expect(answers[0]!.headers.get('ratelimit-limit')).toBe('2');
    expect(Number(answers[1]!.headers.get('ratelimit-remaining'))).toBeLessThan(Number(answers[0]!.headers.get('ratelimit-remaining')));
    expect(answers[0]!.headers.get('ratelimit-reset')).toMatch(/^\d+$/);
    expect(answers[2]!.status).toBe(429);
    expect(Number(answers[2]!.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  });
});

describe('klaviyo-bulk-import revision', () => {
  let fake: KlaviyoFake;
  let staging: Awaited<ReturnType<typeof tempDir>>;
  beforeAll(async () => {
    fake = await startKlaviyoFake({ rateLimits: { burst: 1_000, steady: 10_000 } });
    staging = await tempDir();
  });
  afterAll(async () => {
    await fake.close();
    await staging.dispose();
  });

  async function uploadWith(revision: string | undefined): Promise<unknown> {
    const parsed = manager.configSchema.parse({ apiKey: fake.apiKey, baseUrl: fake.url, ...(revision ? { revision } : {}) });
    const { batch } = await buildBatch(manager, parsed, [{ email: 'rev@example.com' }], { stagingDir: staging.path });
    return manager.upload(batch, callContext(parsed, { session: openSession(manager, parsed) }).ctx).catch((error: unknown) => error);
  }

  it('defaults to a released revision that is not retired', async () => {
    expect(RELEASED_REVISIONS).toContain(DEFAULT_REVISION);
    expect(DEFAULT_REVISION >= DEFAULT_RETIRED_BEFORE).toBe(true);
    expect(await uploadWith(undefined)).toMatchObject({ imports: [expect.anything()] });
  });

  it.each([
    ['a retired revision (410 Gone)', '2024-10-15', 'gone'],
    ['a revision Klaviyo never released (400 on the revision parameter)', '2026-02-30', 'invalid'],
  ])('turns %s into a ConfigError on revision with the fix', async (_, revision, vendorCode) => {
    const error = await uploadWith(revision);
    expect(error).toBeInstanceOf(ConfigError);
    expect(error).toMatchObject({ field: 'revision', code: 'config', vendorCode });
    expect((error as Error).message).toContain(`set revision to a revision Klaviyo supports, such as ${DEFAULT_REVISION}`);
  });

  it('a revision retired while imports are open: polling says ConfigError too', async () => {
    const parsed = manager.configSchema.parse({ apiKey: fake.apiKey, baseUrl: fake.url, revision: '2023-12-15' });
    const open = { importId: '1', uploadId: '1', handle: { klaviyoJobId: 'ANY', profiles: 1 }, startedAt: Date.now(), pollCount: 0 };
    await expect(manager.poll(open, callContext(parsed, { session: openSession(manager, parsed) }).ctx)).rejects.toMatchObject({ field: 'revision' });
  });
});
