/**
 * No job succeeds without Klaviyo's evidence: each import's listed errors are reconciled with the
 * job's counts, against a fake that publishes errors late, lists them out of order, merges
 * duplicate emails and, when told, misreports.
 */
import pino from 'pino';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { JobOutcome, JsonObject } from '../../src/manager/contract.ts';
import { ERROR_CODES } from '../../src/manager/error-codes.ts';
import { buildBatch, callContext, openSession, settleUpload, tempDir } from '../../test/conformance/harness.ts';
import manager from './index.ts';
import { startKlaviyoFake, type KlaviyoFake } from './test/klaviyo-fake.ts';

const roomy = { burst: 10_000, steady: 100_000 };
const phones = (n: number, bad: ReadonlySet<number>): JsonObject[] =>
  Array.from({ length: n }, (_, i) => ({ email: `r${i}@example.com`, phone: bad.has(i) ? `555-01${i}` : `+1555010${String(i).padStart(4, '0')}` }));

describe('klaviyo-bulk-import reconciliation', () => {
  let fake: KlaviyoFake;
  let staging: Awaited<ReturnType<typeof tempDir>>;
  let warnings: Array<Record<string, unknown>>;
  beforeAll(async () => {
    staging = await tempDir();
  });
  afterAll(() => staging.dispose());
  beforeEach(() => {
    warnings = [];
  });
  afterEach(() => fake?.close());

  /** Uploads `events`, lets Klaviyo finish, and returns every job's final outcome in batch order. */
  async function deliver(events: JsonObject[], config: JsonObject = {}): Promise<{ jobIds: readonly string[]; outcomes: JobOutcome[] }> {
    const parsed = manager.configSchema.parse({ apiKey: fake.apiKey, baseUrl: fake.url, rateLimitPerMinute: 60_000, rateLimitBurst: 1_000, resultRereadDelayMs: 20, ...config });
    const { batch } = await buildBatch(manager, parsed, events, { stagingDir: staging.path });
    const log = pino({ level: 'warn' }, { write: (line: string) => void warnings.push(JSON.parse(line)) });
    const ctx = { ...callContext(parsed, { session: openSession(manager, parsed) }).ctx, log };
    const result = await manager.upload(batch, ctx);
    const settled = await settleUpload(manager, result.imports ?? [], ctx, { uploadId: batch.uploadId, completeImports: () => fake.finishAll() });
    const all = [...result.outcomes, ...settled];
    return { jobIds: batch.jobIds, outcomes: batch.jobIds.map((id) => all.find((o) => o.jobId === id)!) };
  }
  const kinds = (outcomes: JobOutcome[]) => outcomes.map((o) => o.kind);

  it('reads late errors again and maps them, listed newest first, to the right jobs', async () => {
    fake = await startKlaviyoFake({ rateLimits: roomy, errorsLateBy: 2, progression: 'manual' });
    const { outcomes } = await deliver(phones(6, new Set([1, 4])));
    expect(kinds(outcomes)).toEqual(['succeeded', 'aborted', 'succeeded', 'succeeded', 'aborted', 'succeeded']);
    expect(outcomes[4]).toMatchObject({ code: ERROR_CODES.recordRejected, vendorCode: 'invalid_phone_number', reason: expect.stringContaining('555-014') });
    expect(fake.requests().filter((r) => r.path.includes('/import-errors'))).toHaveLength(3);
    expect(warnings).toEqual([]);
  });

  it('undercount: Klaviyo counts a failure it never lists, so the unlisted jobs are re-sent with outcome_unconfirmed', async () => {
    fake = await startKlaviyoFake({ rateLimits: roomy, progression: 'manual' });
    await fake.misreport('undercount');
    const { outcomes } = await deliver(phones(4, new Set([2])));
    expect(kinds(outcomes)).toEqual(['retry', 'retry', 'aborted', 'retry']);
    expect(outcomes[0]).toEqual({ jobId: expect.any(String), kind: 'retry', code: ERROR_CODES.outcomeUnconfirmed, reason: 'Klaviyo counted 2 failures but listed 1; outcome unconfirmed, re-sent' });
    // Reads: the first (late, empty), then the two re-reads the config allows; then the policy.
    expect(fake.requests().filter((r) => r.path.includes('/import-errors'))).toHaveLength(3);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ importId: 'import-0', counted: 2, listed: 1, msg: expect.stringContaining('import import-0') });
  });

  it('stray-row: an error matching no job makes the import inconsistent; warned, and nobody succeeds silently', async () => {
    fake = await startKlaviyoFake({ rateLimits: roomy, progression: 'manual' });
    await fake.misreport('stray-row');
    const { outcomes } = await deliver(phones(3, new Set()));
    expect(kinds(outcomes)).toEqual(['retry', 'retry', 'retry']);
    expect(outcomes.every((o) => o.kind === 'retry' && o.code === ERROR_CODES.outcomeUnconfirmed && /counted 1 failures but listed 0/.test(o.reason))).toBe(true);
    expect(warnings[0]).toMatchObject({ stray: 1, importId: 'import-0' });
  });

  it('a null original_payload is unconfirmed, never a silent success; policy "abort" aborts instead of re-sending', async () => {
    fake = await startKlaviyoFake({ rateLimits: roomy, progression: 'manual' });
    await fake.misreport('null-payload');
    const { outcomes } = await deliver(phones(3, new Set([0])), { unconfirmedPolicy: 'abort' });
    expect(kinds(outcomes)).toEqual(['aborted', 'aborted', 'aborted']);
    for (const outcome of outcomes) {
      expect(outcome).toMatchObject({ code: ERROR_CODES.outcomeUnconfirmed, reason: 'Klaviyo counted 1 failures but listed 0; outcome unconfirmed, not re-sent (unconfirmedPolicy "abort")' });
    }
    expect(warnings[0]).toMatchObject({ payloadless: 1 });
  });

  it('duplicate emails in one job: Klaviyo merges them, and its one error aborts both jobs', async () => {
    fake = await startKlaviyoFake({ rateLimits: roomy, progression: 'manual' });
    const events: JsonObject[] = [{ email: 'dup@example.com', phone: '+15550100001' }, { email: 'other@example.com' }, { email: 'DUP@example.com', phone: 'not-a-phone' }];
    const { outcomes } = await deliver(events);
    expect(kinds(outcomes)).toEqual(['aborted', 'succeeded', 'aborted']);
    const job = [...fake.jobs.values()][0]!;
    expect(job.profiles).toHaveLength(2);
    expect(warnings).toEqual([]);
  });
});
