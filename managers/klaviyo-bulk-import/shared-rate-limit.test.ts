/**
 * Klaviyo's limit is per account, so the limiter lives in PostgreSQL: two sessions on two
 * connection pools (as two processes would have) draw on one budget, and a 429's Retry-After
 * seen by one pauses the other. Measured at the Klaviyo fake, whose limits are per account too.
 */
import { Kysely, PostgresDialect } from 'kysely';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createPool } from '../../src/db/connect.ts';
import type { Database } from '../../src/db/schema.ts';
import type { UploadBatch } from '../../src/manager/contract.ts';
import { RetryableError } from '../../src/manager/errors.ts';
import { buildBatch, callContext, tempDir } from '../../test/conformance/harness.ts';
import { createTestDatabase } from '../../test/helpers/database.ts';
import { silentLog } from '../../test/helpers/router.ts';
import { createKlaviyoSession, type KlaviyoSession } from './api.ts';
import manager from './index.ts';
import type { ProfileRow } from './profile.ts';
import { accountKey } from './shared-rate-limit.ts';
import { startKlaviyoFake, type KlaviyoFake } from './test/klaviyo-fake.ts';

type TestDb = Awaited<ReturnType<typeof createTestDatabase>>;

describe('klaviyo-bulk-import rate limit shared through PostgreSQL', () => {
  let t: TestDb;
  let second: Kysely<Database>;
  let fake: KlaviyoFake;
  let staging: Awaited<ReturnType<typeof tempDir>>;
  beforeAll(async () => {
    t = await createTestDatabase();
    // A second pool on the same database: what another process sharing it would have.
    second = new Kysely<Database>({ dialect: new PostgresDialect({ pool: createPool({ connectionString: t.url, max: 2 }) }) });
    staging = await tempDir();
  });
  afterAll(async () => {
    await second.destroy();
    await t.close();
    await staging.dispose();
  });
  afterEach(() => fake?.close());

  // Klaviyo's fixed one-second window admits 3 here; the bucket (burst 1, then 2/s) never sends
  // more than 3 in any second, but only if both sessions draw on the same bucket.
  const limits = { rateLimitPerMinute: 120, rateLimitBurst: 1 };
  const parse = () => manager.configSchema.parse({ apiKey: fake.apiKey, baseUrl: fake.url, ...limits });

  /** Sends `n` one-profile uploads through each session, all at once. */
  async function uploadThrough(sessions: Array<KlaviyoSession | undefined>, n: number): Promise<void> {
    const config = parse();
    const sends: Array<Promise<unknown>> = [];
    for (const [s, session] of sessions.entries()) {
      for (let i = 0; i < n; i += 1) {
        const { batch }: { batch: UploadBatch<ProfileRow> } = await buildBatch(manager, config, [{ email: `s${s}-${i}@example.com` }], { stagingDir: staging.path });
        sends.push(manager.upload(batch, callContext(config, { session }).ctx).catch((error: unknown) => {
          if (!(error instanceof RetryableError)) throw error;
        }));
      }
    }
    await Promise.all(sends);
  }

  it('two sessions on two pools stay within the one budget: no 429 from Klaviyo', { timeout: 30_000 }, async () => {
    fake = await startKlaviyoFake({ rateLimits: { burst: 3, steady: 1_000 } });
    const config = parse();
    const sessions = [createKlaviyoSession(config, silentLog, { db: t.db }), createKlaviyoSession(config, silentLog, { db: second })];
    const started = Date.now();
    await uploadThrough(sessions, 4);
    expect(fake.throttled()).toBe(0);
    expect(fake.jobs.size).toBe(8);
    // 8 requests: 1 at once, then one per 500 ms.
    expect(Date.now() - started).toBeGreaterThanOrEqual(3_400);
    // The row is keyed by a hash of the key; the key itself is nowhere in the table.
    const rows = await t.db.selectFrom('br_klaviyo_rate_limits' as never).selectAll().execute();
    expect(rows).toEqual([expect.objectContaining({ account: accountKey(fake.apiKey) })]);
    expect(JSON.stringify(rows)).not.toContain(fake.apiKey);
  });

  it('without the database, two processes each pace alone and Klaviyo throttles them (why it is shared)', { timeout: 30_000 }, async () => {
    fake = await startKlaviyoFake({ rateLimits: { burst: 3, steady: 1_000 } });
    const config = parse();
    await uploadThrough([createKlaviyoSession(config, silentLog), createKlaviyoSession(config, silentLog)], 4);
    expect(fake.throttled()).toBeGreaterThan(0);
  });

  it("a 429's Retry-After seen by one session holds the other session's next request", { timeout: 30_000 }, async () => {
    fake = await startKlaviyoFake({ rateLimits: { burst: 1_000, steady: 10_000 } });
    const config = manager.configSchema.parse({ apiKey: fake.apiKey, baseUrl: fake.url, rateLimitPerMinute: 60_000, rateLimitBurst: 100 });
    const [a, b] = [createKlaviyoSession(config, silentLog, { db: t.db }), createKlaviyoSession(config, silentLog, { db: second })];
    fake.script('create', { status: 429, retryAfter: 2 });
    await uploadThrough([a], 1);
    const throttledAt = fake.requests().at(-1)!.at;
    expect(fake.requests().at(-1)!.status).toBe(429);
    await uploadThrough([b], 1);
    expect(fake.requests().at(-1)!.at - throttledAt).toBeGreaterThanOrEqual(1_900);
  });
});
