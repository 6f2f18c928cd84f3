/**
 * Subscribe mode (Bulk Subscribe Profiles): the conformance suite in this mode, the documented
 * request shape, consent rules checked before anything is sent, and Klaviyo's 202 as the only
 * evidence it gives.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JsonObject } from '../../src/manager/contract.ts';
import { ConfigError, PermanentError } from '../../src/manager/errors.ts';
import { buildBatch, callContext, openSession, tempDir } from '../../test/conformance/harness.ts';
import { runManagerConformance } from '../../test/conformance/suite.ts';
import manager from './index.ts';
import { startKlaviyoFake, type KlaviyoFake } from './test/klaviyo-fake.ts';

const roomy = { burst: 10_000, steady: 100_000 };
const fast = { rateLimitPerMinute: 60_000, rateLimitBurst: 1_000 };
const people = (n: number): JsonObject[] => Array.from({ length: n }, (_, i) => ({ email: `sub${i}@example.com`, phone: `+1555020${String(i).padStart(4, '0')}` }));

runManagerConformance({
  manager,
  variant: 'subscribe',
  noResultListing: 'Klaviyo answers a bulk subscribe with 202 and no body; there is no result to read back',
  async setup() {
    const fake = await startKlaviyoFake({ rateLimits: roomy });
    // No misreport: Klaviyo lists nothing per profile for a bulk subscribe, so there is nothing to misreport.
    return {
      config: { apiKey: fake.apiKey, baseUrl: fake.url, mode: 'subscribe', listId: 'LISTSUB', ...fast },
      cleanup: () => fake.close(),
      vendorCalls: async () => fake.requestCount(),
    };
  },
  sampleEvents: (n) => people(n),
  badEvent: { firstName: 'no email at all' },
});

describe('klaviyo-bulk-import subscribe mode', () => {
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

  const parse = (config: JsonObject = {}) => manager.configSchema.parse({ apiKey: fake.apiKey, baseUrl: fake.url, mode: 'subscribe', ...fast, ...config });
  async function upload(events: JsonObject[], config: JsonObject = {}) {
    const parsed = parse(config);
    const { batch, transformAborted } = await buildBatch(manager, parsed, events, { stagingDir: staging.path });
    const result = await manager.upload(batch, callContext(parsed, { session: openSession(manager, parsed) }).ctx);
    return { batch, result, transformAborted };
  }
  const posts = () => fake.requests().filter((r) => r.method === 'POST');

  it('sends the documented body and succeeds on 202 with a warning that Klaviyo reports nothing more', async () => {
    const before = posts().length;
    const { result } = await upload([{ email: 'ann@example.com', phone: '+15550100001' }], { consentChannels: ['email', 'sms'], listId: 'L1', customSource: 'Checkout' });
    expect(JSON.parse(posts()[before]!.body)).toEqual({
      data: {
        type: 'profile-subscription-bulk-create-job',
        attributes: {
          profiles: { data: [{ type: 'profile', attributes: { email: 'ann@example.com', phone_number: '+15550100001', subscriptions: { email: { marketing: { consent: 'SUBSCRIBED' } }, sms: { marketing: { consent: 'SUBSCRIBED' } } } } }] },
          custom_source: 'Checkout',
        },
        relationships: { list: { data: { type: 'list', id: 'L1' } } },
      },
    });
    expect(result.imports).toEqual([]);
    expect(result.outcomes).toEqual([{ jobId: expect.any(String), kind: 'succeeded', warning: expect.stringContaining('reports no per-profile result') }]);
    expect(fake.subscriptions.at(-1)).toMatchObject({ email: 'ann@example.com', channels: ['email', 'sms'], listId: 'L1' });
  });

  it('a historical import carries consented_at from the event; its absence or a future time is a bad event', async () => {
    const config = { historicalImport: true, consentedAtPath: 'consentedAt' };
    const { result, transformAborted } = await upload(
      [{ email: 'old@example.com', consentedAt: '2024-03-01T10:00:00Z' }, { email: 'none@example.com' }, { email: 'future@example.com', consentedAt: '2999-01-01T00:00:00Z' }],
      config,
    );
    expect(result.outcomes.map((o) => o.kind)).toEqual(['succeeded']);
    expect(fake.subscriptions.at(-1)).toMatchObject({ email: 'old@example.com', historical: true, consentedAt: '2024-03-01T10:00:00.000Z' });
    expect(transformAborted).toHaveLength(2);
    const transform = (event: JsonObject) => () => manager.transform({ jobId: '1', event, attempt: 1 }, parse(config));
    expect(transform({ email: 'x@example.com' })).toThrow(PermanentError);
    expect(transform({ email: 'x@example.com', consentedAt: '2999-01-01T00:00:00Z' })).toThrow(/in the future/);
  });

  it('refuses consentedAtPath without historicalImport and the reverse, naming the field', () => {
    expect(() => parse({ historicalImport: true })).toThrow(ConfigError);
    expect(() => parse({ historicalImport: true })).toThrow(/consentedAtPath/);
    expect(() => parse({ consentedAtPath: 'at' })).toThrow(/consentedAtPath.*historicalImport/);
  });

  it('splits at 1,000 profiles per request, Klaviyo’s cap for bulk subscribe', async () => {
    const before = posts().length;
    const { result } = await upload(people(1_001));
    expect(posts().slice(before).map((r) => JSON.parse(r.body).data.attributes.profiles.data.length)).toEqual([1_000, 1]);
    expect(result.outcomes.filter((o) => o.kind === 'succeeded')).toHaveLength(1_001);
  });

  it('aborts the profile Klaviyo points at (no valid phone for SMS) and resends the rest', async () => {
    const { result } = await upload([{ phone: '+15550100002' }, { phone: '555-bad' }, { phone: '+15550100003' }], { consentChannels: ['sms'] });
    expect(result.outcomes.map((o) => o.kind)).toEqual(['aborted', 'succeeded', 'succeeded']);
    expect(result.outcomes[0]).toMatchObject({ code: 'record_rejected', vendorCode: 'invalid', reason: expect.stringContaining('E.164') });
  });
});
