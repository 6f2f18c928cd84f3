/**
 * Garbage answers the vendor-answer fuzz test (test/fuzz/vendor-answers/klaviyo.fuzz.test.ts)
 * found mishandled, each pinned as a plain case: the fake answers everything but one endpoint,
 * which a real HTTP gate answers with the garbage that triggered the bug.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { JobOutcome, JsonObject } from '../../src/manager/contract.ts';
import { ERROR_CODES } from '../../src/manager/error-codes.ts';
import { RetryableError } from '../../src/manager/errors.ts';
import { buildBatch, callContext, openSession, settleUpload, tempDir } from '../../test/conformance/harness.ts';
import { GarbageGate, type GateRequest } from '../../test/fuzz/vendor-answers/garbage-gate.ts';
import manager from './index.ts';
import { startKlaviyoFake, type KlaviyoFake } from './test/klaviyo-fake.ts';

const EVENTS: JsonObject[] = [{ email: 'a0@example.com', phone: '12345' }, { email: 'a1@example.com' }, { email: 'a2@example.com' }];
const isJob = (r: GateRequest) => r.method === 'GET' && /^\/api\/profile-bulk-import-jobs\/[^/?]+$/.test(r.path);
const isErrors = (r: GateRequest) => r.path.includes('/import-errors');
const answer = (doc: unknown) => ({ status: 200, headers: { 'content-type': 'application/vnd.api+json' }, body: new TextEncoder().encode(JSON.stringify(doc)) });
const jobWith = (attributes: unknown) => answer({ data: { type: 'profile-bulk-import-job', id: 'J', attributes } });

describe('klaviyo-bulk-import: garbage the fuzz test found', () => {
  let fake: KlaviyoFake;
  let gate: GarbageGate;
  let staging: Awaited<ReturnType<typeof tempDir>>;
  beforeAll(async () => {
    staging = await tempDir();
  });
  afterAll(() => staging.dispose());
  afterEach(async () => {
    await gate?.close();
    await fake?.close();
  });

  /** Uploads EVENTS through a gate answering the requests `inStep` picks with `garbage`. */
  async function upload(inStep: (r: GateRequest) => boolean, garbage: ReturnType<typeof answer>) {
    fake = await startKlaviyoFake({ errorsLateBy: 0, rateLimits: { burst: 10_000, steady: 100_000 } });
    gate = await GarbageGate.start(fake.url, (r) => (inStep(r) ? garbage : undefined));
    const config = manager.configSchema.parse({ apiKey: fake.apiKey, baseUrl: gate.url, rateLimitPerMinute: 60_000, rateLimitBurst: 1_000, resultRereads: 0 });
    const { batch } = await buildBatch(manager, config, EVENTS, { stagingDir: staging.path });
    const ctx = callContext(config, { session: openSession(manager, config) }).ctx;
    return { batch, ctx, result: await manager.upload(batch, ctx) };
  }

  /** Delivers EVENTS (see `upload`) and returns every job's final outcome in order. */
  async function deliver(inStep: (r: GateRequest) => boolean, garbage: ReturnType<typeof answer>): Promise<JobOutcome[]> {
    const { batch, ctx, result } = await upload(inStep, garbage);
    const settled = await settleUpload(manager, result.imports ?? [], ctx, { uploadId: batch.uploadId, completeImports: () => fake.finishAll() });
    const all = [...result.outcomes, ...settled];
    return batch.jobIds.map((id) => all.find((o) => o.jobId === id)!);
  }

  it('a complete job without counts settles nobody as succeeded (was: every job succeeded)', async () => {
    const outcomes = await deliver(isJob, jobWith({ status: 'complete' }));
    expect(outcomes.map((o) => o.kind)).toEqual(['aborted', 'retry', 'retry']);
    expect(outcomes[1]).toMatchObject({ code: ERROR_CODES.outcomeUnconfirmed, reason: expect.stringContaining("Klaviyo's counts for the job are missing or malformed") });
  });

  it('a complete job with a negative total and garbled counts settles nobody as succeeded (was: the unlisted jobs succeeded)', async () => {
    const outcomes = await deliver(isJob, jobWith({ status: 'complete', total_count: -1, completed_count: [1], failed_count: 1 }));
    expect(outcomes.map((o) => o.kind)).toEqual(['aborted', 'retry', 'retry']);
  });

  it('an import-errors item that is null counts as an error naming nobody (was: TypeError reading its attributes)', async () => {
    const outcomes = await deliver(isErrors, answer({ data: [null], links: { next: null } }));
    expect(outcomes.map((o) => o.kind)).toEqual(['retry', 'retry', 'retry']);
    expect(outcomes.every((o) => o.kind === 'retry' && o.code === ERROR_CODES.outcomeUnconfirmed)).toBe(true);
  });

  it('an error whose detail owns a "toString" key and whose code is a number is read as text (was: TypeError)', async () => {
    const errors = [{ code: 5, detail: { toString: 1 }, source: { pointer: '/data/attributes/profiles/data/0/attributes/email' } }];
    const outcomes = await deliver((r) => r.method === 'POST', { ...answer({ errors }), status: 400 });
    expect(outcomes[0]).toMatchObject({ kind: 'aborted', vendorCode: '5', reason: 'Klaviyo rejected the profile: {"toString":1} (5)' });
  });

  it('a next link back to a page already read stops the paging (was: up to 200 pages paced by the rate limit)', async () => {
    const loop = answer({ data: [], links: { next: '/api/profile-bulk-import-jobs/J/import-errors?page%5Bcursor%5D=MQ' } });
    const { ctx, result } = await upload(isErrors, loop);
    await fake.finishAll();
    const made = result.imports![0]!;
    const open = { importId: 'i-1', uploadId: '1', handle: made.handle, startedAt: Date.now(), pollCount: 0 };
    const jobs = made.jobs.map((j) => ({ jobId: j.jobId, correlationKey: j.correlationKey ?? null }));
    const error = await manager.getUploadStats(open, jobs, ctx).then(() => expect.fail('expected a RetryableError'), (e: unknown) => e as RetryableError);
    expect(error).toBeInstanceOf(RetryableError);
    expect(error.code).toBe(ERROR_CODES.badVendorResponse);
    expect(error.message).toMatch(/link back to a page already read; the links loop/);
    // The first page, then the linked one; its link back to itself is not followed.
    expect(gate.garbageServed).toBe(2);
  });
});
