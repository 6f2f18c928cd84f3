/**
 * The client-side rate limit: the token bucket itself (on a fake clock), and the one a Klaviyo
 * session shares between calls (on the real clock, measured at the fake vendor).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { UploadBatch } from '../../src/manager/contract.ts';
import { RetryableError } from '../../src/manager/errors.ts';
import { buildBatch, callContext, openSession, tempDir } from '../../test/conformance/harness.ts';
import { startKlaviyoFake, type KlaviyoFake } from './test/klaviyo-fake.ts';
import { TokenBucket } from '../_http/token-bucket.ts';
import manager from './index.ts';
import type { ProfileRow } from './profile.ts';

describe('TokenBucket', () => {
  it('allows a burst, then one token per period', () => {
    let now = 0;
    const bucket = new TokenBucket({ perMinute: 60, burst: 3, now: () => now });
    expect([bucket.tryTake(), bucket.tryTake(), bucket.tryTake()]).toEqual([0, 0, 0]);
    expect(bucket.tryTake()).toBe(1_000);
    now += 400;
    expect(bucket.tryTake()).toBe(600);
    now += 600;
    expect(bucket.tryTake()).toBe(0);
    now += 60_000; // a quiet minute refills to the burst, not beyond
    expect([bucket.tryTake(), bucket.tryTake(), bucket.tryTake(), bucket.tryTake()]).toEqual([0, 0, 0, 1_000]);
  });

  it('holds every caller for Retry-After, then lets one request go', () => {
    let now = 0;
    const bucket = new TokenBucket({ perMinute: 60, burst: 10, now: () => now });
    bucket.holdFor(5_000);
    expect(bucket.tryTake()).toBe(5_000);
    now += 5_000;
    expect(bucket.tryTake()).toBe(0);
    expect(bucket.tryTake()).toBe(1_000);
  });

  it('gives up with a RetryableError when the call is cancelled while waiting', async () => {
    const bucket = new TokenBucket({ perMinute: 1, burst: 1 });
    bucket.tryTake();
    const controller = new AbortController();
    const waiting = bucket.take(controller.signal);
    controller.abort();
    await expect(waiting).rejects.toBeInstanceOf(RetryableError);
  });
});

describe('klaviyo-bulk-import session rate limit', () => {
  let fake: KlaviyoFake;
  let staging: Awaited<ReturnType<typeof tempDir>>;
  beforeAll(async () => {
    fake = await startKlaviyoFake();
    staging = await tempDir();
  });
  afterAll(async () => {
    await fake.close();
    await staging.dispose();
  });

  /**
   * Uploads `n` one-profile batches through one new session, all at once or one after another.
   * Returns when the requests reached the vendor, and how long the uploads took from the
   * session's creation (its bucket starts full then).
   */
  async function uploads(n: number, config: Record<string, unknown>, together = false): Promise<{ times: number[]; elapsed: number }> {
    const parsed = manager.configSchema.parse({ apiKey: fake.apiKey, baseUrl: fake.url, ...config });
    const batches: Array<UploadBatch<ProfileRow>> = [];
    for (let i = 0; i < n; i += 1) batches.push((await buildBatch(manager, parsed, [{ email: `rate${i}@example.com` }], { stagingDir: staging.path })).batch);
    const before = fake.requestCount();
    const started = Date.now();
    const session = openSession(manager, parsed);
    const send = (batch: UploadBatch<ProfileRow>) =>
      manager.upload(batch, callContext(parsed, { session }).ctx).catch((error: unknown) => {
        if (!(error instanceof RetryableError)) throw error;
      });
    if (together) await Promise.all(batches.map(send));
    else for (const batch of batches) await send(batch);
    const elapsed = Date.now() - started;
    return { times: fake.requests().slice(before).map((r) => r.at).sort((a, b) => a - b), elapsed };
  }

  it('paces requests at the configured steady rate after the burst', async () => {
    // 10/s after a burst of two: tokens at 0, 0, 100 and 200 ms, so four requests take 200 ms at least.
    const { times, elapsed } = await uploads(4, { rateLimitPerMinute: 600, rateLimitBurst: 2 }, true);
    expect(times).toHaveLength(4);
    expect(elapsed).toBeGreaterThanOrEqual(195);
  });

  it('defaults to Klaviyo’s documented limit for the endpoint: 150/m steady, burst 10', () => {
    const config = manager.configSchema.parse({ apiKey: 'pk_x_1234' });
    expect({ perMinute: config.rateLimitPerMinute, burst: config.rateLimitBurst }).toEqual({ perMinute: 150, burst: 10 });
  });

  it('after a 429 with Retry-After, holds the next request of the session until then', async () => {
    fake.script('create', { status: 429, retryAfter: 1 });
    const { times } = await uploads(2, { rateLimitPerMinute: 60_000, rateLimitBurst: 100 });
    expect(times[1]! - times[0]!).toBeGreaterThanOrEqual(950);
  });
});
