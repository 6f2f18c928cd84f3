import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JsonObject, UploadResult } from '../../src/manager/contract.ts';
import { ConfigError, PermanentError } from '../../src/manager/errors.ts';
import { buildBatch, callContext, openSession, tempDir } from '../../test/conformance/harness.ts';
import { runManagerConformance } from '../../test/conformance/suite.ts';
import { startKlaviyoFake, type KlaviyoFake } from './test/klaviyo-fake.ts';
import manager from './index.ts';
import { MAX_PROFILE_BYTES } from './profile.ts';
import { MAX_REQUEST_BYTES } from './endpoints.ts';

const profiles = (n: number, extra: JsonObject = {}): JsonObject[] =>
  Array.from({ length: n }, (_, i) => ({ email: `user${i}@example.com`, firstName: `U${i}`, properties: { plan: 'pro', n: i }, ...extra }));
const fast = { rateLimitPerMinute: 60_000, rateLimitBurst: 1_000, resultRereadDelayMs: 20 };
/** Klaviyo's documented 150/m would make these tests wait minutes; the limits have tests of their own. */
const roomy = { burst: 10_000, steady: 100_000 };

runManagerConformance({
  manager,
  async setup() {
    const fake = await startKlaviyoFake({ progression: 'manual', rateLimits: roomy });
    return {
      config: { apiKey: fake.apiKey, baseUrl: fake.url, listId: 'LIST01', ...fast },
      cleanup: () => fake.close(),
      completeImports: () => fake.finishAll(),
      vendorCalls: async () => fake.requestCount(),
      misreport: (mode) => fake.misreport(mode),
    };
  },
  sampleEvents: (n) => profiles(n),
  badEvent: { firstName: 'nobody', properties: { no: 'identifier' } },
});

describe('klaviyo-bulk-import upload', () => {
  let fake: KlaviyoFake;
  let staging: Awaited<ReturnType<typeof tempDir>>;
  beforeAll(async () => {
    fake = await startKlaviyoFake({ rateLimits: roomy });
    staging = await tempDir();
  });
  afterAll(async () => {
    await fake.close();
    await staging.dispose();
  });

  async function upload(events: JsonObject[], config: JsonObject = {}): Promise<UploadResult> {
    const parsed = manager.configSchema.parse({ apiKey: fake.apiKey, baseUrl: fake.url, ...fast, ...config });
    const { batch } = await buildBatch(manager, parsed, events, { stagingDir: staging.path });
    return manager.upload(batch, callContext(parsed, { session: openSession(manager, parsed) }).ctx);
  }
  const posts = () => fake.requests().filter((r) => r.method === 'POST');

  it('sends a JSON:API job with the key, revision and list, and keys each job by identity', async () => {
    const before = posts().length;
    const result = await upload([{ email: 'Ann@Example.com', userId: 42, phone: '+15551234567', firstName: 'Ann' }, { email: 'bob@example.com' }], { listId: 'LIST9', revision: '2026-07-15' });
    const [request] = posts().slice(before);
    expect(request?.headers).toMatchObject({ authorization: `Klaviyo-API-Key ${fake.apiKey}`, revision: '2026-07-15', 'content-type': 'application/vnd.api+json' });
    expect(JSON.parse(request!.body)).toEqual({
      data: {
        type: 'profile-bulk-import-job',
        attributes: { profiles: { data: [
          { type: 'profile', attributes: { email: 'Ann@Example.com', external_id: '42', phone_number: '+15551234567', first_name: 'Ann' } },
          { type: 'profile', attributes: { email: 'bob@example.com' } },
        ] } },
        relationships: { lists: { data: [{ type: 'list', id: 'LIST9' }] } },
      },
    });
    expect(result.imports).toHaveLength(1);
    expect(result.imports![0]!.jobs.map((j) => j.correlationKey)).toEqual(['external_id:42', 'email:bob@example.com']);
    expect(fake.jobs.get(String(result.imports![0]!.handle.klaviyoJobId))?.listId).toBe('LIST9');
  });

  it('splits at 10,000 profiles per job', async () => {
    const before = posts().length;
    const result = await upload(profiles(10_001));
    expect(result.imports!.map((i) => i.jobs.length)).toEqual([10_000, 1]);
    expect(posts().length - before).toBe(2);
  });

  it('splits by request size below 5 MB', async () => {
    const before = posts().length;
    const result = await upload(profiles(120, { properties: { blob: 'x'.repeat(90_000) } }));
    const sizes = posts().slice(before).map((r) => Buffer.byteLength(r.body));
    expect(sizes.length).toBeGreaterThan(2);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(MAX_REQUEST_BYTES);
    expect(result.imports!.flatMap((i) => i.jobs)).toHaveLength(120);
  });

  it('aborts a profile over the per-profile limit at transform, with the reason', () => {
    const config = manager.configSchema.parse({ apiKey: 'pk_x_1234' });
    const transform = () => manager.transform({ jobId: '1', event: { email: 'big@example.com', properties: { blob: 'x'.repeat(MAX_PROFILE_BYTES) } }, attempt: 1 }, config);
    expect(transform).toThrow(PermanentError);
    expect(transform).toThrow(/Klaviyo accepts at most 100000 bytes per profile/);
  });

  it('aborts the chunk on a 4xx that names no profile (a list that does not exist)', async () => {
    const strict = await startKlaviyoFake({ lists: ['REAL'], rateLimits: roomy });
    try {
      const parsed = manager.configSchema.parse({ apiKey: strict.apiKey, baseUrl: strict.url, listId: 'GONE', ...fast });
      const { batch } = await buildBatch(manager, parsed, profiles(3), { stagingDir: staging.path });
      const result = await manager.upload(batch, callContext(parsed, { session: openSession(manager, parsed) }).ctx);
      expect(result.imports ?? []).toEqual([]);
      expect(result.outcomes).toHaveLength(3);
      for (const outcome of result.outcomes) {
        expect(outcome.kind).toBe('aborted');
        expect('reason' in outcome && outcome.reason).toMatch(/Klaviyo answered 400 .*List GONE does not exist/);
      }
    } finally {
      await strict.close();
    }
  });

  it('resends only once: profiles named again are aborted, the innocent rest retried', async () => {
    fake.script('create', { status: 400, errors: [{ code: 'invalid', detail: 'bad 0', pointer: '/data/attributes/profiles/data/0/attributes/email' }] },
      { status: 400, errors: [{ code: 'invalid', detail: 'bad 1', pointer: '/data/attributes/profiles/data/1' }] });
    const result = await upload(profiles(3));
    expect(result.imports ?? []).toEqual([]);
    expect(result.outcomes.map((o) => [o.kind, 'reason' in o ? o.reason : ''])).toEqual([
      ['aborted', 'Klaviyo rejected the profile: bad 0 (invalid)'],
      ['aborted', 'Klaviyo rejected the profile: bad 1 (invalid)'],
      ['retry', expect.stringContaining('rejected other profiles of the same request twice')],
    ]);
  });

  it('polls queued/processing to progress, complete to done, cancelled and unknown statuses to retryable failures', async () => {
    const result = await upload(profiles(4, { phone: 'bad-phone' }).map((p, i) => (i === 0 ? p : { ...p, phone: '+15550100' + i })));
    const handle = result.imports![0]!.handle;
    const job = fake.jobs.get(String(handle.klaviyoJobId))!;
    const config = manager.configSchema.parse({ apiKey: fake.apiKey, baseUrl: fake.url });
    const poll = () => manager.poll({ importId: '1', uploadId: '1', handle, startedAt: Date.now(), pollCount: 0 }, callContext(config, { session: openSession(manager, config) }).ctx);
    expect(await poll()).toEqual({ status: 'in_progress', progress: 50 }); // the fake moves queued → processing (2 of 4)
    expect(await poll()).toEqual({ status: 'completed', hasRecordFailures: true });
    job.status = 'cancelled';
    expect(await poll()).toMatchObject({ status: 'failed', retryable: true, reason: expect.stringContaining('cancelled') });
    job.status = 'archived';
    expect(await poll()).toMatchObject({ status: 'failed', retryable: true, reason: expect.stringContaining('"archived"') });
    fake.jobs.delete(job.id);
    expect(await poll()).toMatchObject({ status: 'failed', retryable: true, reason: expect.stringContaining('404') });
  });

  it('reports a refused key as a ConfigError on apiKey without quoting it', async () => {
    const error = await upload(profiles(1), { apiKey: 'pk_wrong_secret_value' }).catch((e: unknown) => e as ConfigError);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).field).toBe('apiKey');
    expect((error as Error).message).not.toContain('pk_wrong_secret_value');
  });

  it('refuses a mapping to an attribute Klaviyo does not have, naming the field', () => {
    const parse = () => manager.configSchema.parse({ apiKey: 'pk_x_1234', profileMapping: { 'traits.mail': 'emial' } });
    expect(parse).toThrow(ConfigError);
    expect(parse).toThrow(/profileMapping.*"emial"/);
  });
});
