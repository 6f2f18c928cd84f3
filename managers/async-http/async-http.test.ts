import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JsonObject, UploadResult } from '../../src/manager/contract.ts';
import { ConfigError } from '../../src/manager/errors.ts';
import { buildBatch, callContext, openSession, tempDir } from '../../test/conformance/harness.ts';
import { runManagerConformance } from '../../test/conformance/suite.ts';
import { startAsyncOpsFake, type AsyncOpsFake, type OpsAnswer } from './test/fake.ts';
import manager from './index.ts';
import { overall, verdictOf } from './protocol.ts';

const TOKEN = 'tok_s3cret_async_ops';
const operations = (n: number): JsonObject[] => Array.from({ length: n }, (_, i) => ({ id: `op-event-${i}`, sku: `SKU-${i}`, qty: i + 1 }));

for (const answer of ['sync', 'items', 'batch'] as const) {
  runManagerConformance({
    manager,
    variant: answer,
    async setup() {
      const fake = await startAsyncOpsFake({ answer, progression: 'manual', token: TOKEN });
      return {
        config: { baseUrl: fake.url, headers: { Authorization: `Bearer ${TOKEN}` }, pollIntervalMs: 50, maxOperationsPerRequest: 10 },
        cleanup: () => fake.close(),
        completeImports: () => fake.finishAll(),
        vendorCalls: async () => fake.requestCount(),
        misreport: (mode) => fake.misreport(mode),
      };
    },
    sampleEvents: operations,
    badEvent: ['not', 'an', 'object'] as unknown as JsonObject,
  });
}

describe('async-http protocol', () => {
  const v = (status: string) => verdictOf({ status }, 'op');
  it('aggregates item statuses the way the seeds do', () => {
    expect(overall([v('completed'), v('completed')])).toBe('completed');
    expect(overall([v('failed'), v('failed')])).toBe('failed');
    expect(overall([v('completed'), v('processing'), v('failed')])).toBe('pending');
    expect(overall([v('completed'), v('failed')])).toBe('partial');
  });

  it('treats a status outside the protocol as a failure with a reason', () => {
    expect(verdictOf({ status: 'archived' }, 'operation op-3')).toEqual({
      kind: 'failed',
      reason: 'operation op-3 reported unknown status "archived" (UNKNOWN_STATUS); the protocol knows pending, processing, completed and failed',
    });
    expect(verdictOf({ nothing: true }, 'op').kind).toBe('failed');
    expect(verdictOf({ status: 'failed', error_code: 'NO_STOCK', error_message: 'SKU-3 sold out' }, 'operation op-3')).toEqual({
      kind: 'failed', reason: 'operation op-3 failed: NO_STOCK: SKU-3 sold out', codes: { code: 'record_rejected', vendorCode: 'NO_STOCK' },
    });
  });
});

describe('async-http upload', () => {
  let fake: AsyncOpsFake;
  let staging: Awaited<ReturnType<typeof tempDir>>;
  beforeAll(async () => {
    fake = await startAsyncOpsFake({ token: TOKEN });
    staging = await tempDir();
  });
  afterAll(async () => {
    await fake.close();
    await staging.dispose();
  });

  function configFor(extra: JsonObject = {}) {
    return manager.configSchema.parse({ baseUrl: fake.url, headers: { Authorization: `Bearer ${TOKEN}` }, pollIntervalMs: 50, ...extra });
  }
  async function upload(events: JsonObject[], extra: JsonObject = {}, answer: OpsAnswer = 'items'): Promise<UploadResult> {
    fake.answer = answer;
    const { batch } = await buildBatch(manager, configFor(extra), events, { stagingDir: staging.path, destinationId: 'ops', uploadId: '77' });
    return resend(batch, extra);
  }
  function resend(batch: Parameters<typeof manager.upload>[0], extra: JsonObject = {}): Promise<UploadResult> {
    const config = configFor(extra);
    return manager.upload(batch, callContext(config, { destinationId: 'ops', session: openSession(manager, config) }).ctx);
  }
  const keysOf = (requests: ReturnType<typeof posts>) => requests.map((r) => String(r.headers['idempotency-key']));
  const posts = () => fake.requests().filter((r) => r.method === 'POST');

  it('POSTs {"operations":[...]} with the callback URL, credentials and an idempotency key per chunk', async () => {
    const before = posts().length;
    const result = await upload(operations(2), { callbackUrl: 'https://router.example.com/v1/callbacks/ops' });
    const [request] = posts().slice(before);
    const firstJob = result.imports![0]!.jobs[0]!.jobId;
    expect(request?.path).toBe('/operations/batch');
    expect(JSON.parse(request!.body)).toEqual({ operations: operations(2), callbackUrl: 'https://router.example.com/v1/callbacks/ops' });
    expect(request?.headers).toMatchObject({ authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' });
    expect(String(request?.headers['idempotency-key'])).toMatch(new RegExp(`^ops:77:${firstJob}\\+2:[0-9a-f]{16}$`));
  });

  it('splits an upload at maxOperationsPerRequest, one import per request', async () => {
    const before = posts().length;
    const result = await upload(operations(7), { maxOperationsPerRequest: 3 });
    expect(posts().slice(before).map((r) => JSON.parse(r.body).operations.length)).toEqual([3, 3, 1]);
    expect(result.imports!.map((i) => i.jobs.length)).toEqual([3, 3, 1]);
    const keys = keysOf(posts().slice(before));
    expect(keys.map((k) => k.split(':')[2]!.split('+')[1])).toEqual(['3', '3', '1']);
    expect(new Set(keys).size).toBe(3);
  });

  it('keys a request by its jobs: the same jobs re-sent get the first answer, jobs chunked otherwise get new keys', async () => {
    fake.answer = 'items';
    const { batch } = await buildBatch(manager, configFor(), operations(4), { stagingDir: staging.path, destinationId: 'ops', uploadId: '78' });
    let before = posts().length;
    const first = await resend(batch, { maxOperationsPerRequest: 2 });
    const firstKeys = keysOf(posts().slice(before));
    before = posts().length;
    const again = await resend(batch, { maxOperationsPerRequest: 2 });
    expect(keysOf(posts().slice(before))).toEqual(firstKeys);
    expect(posts().slice(before).every((r) => r.replayed && r.status === 202)).toBe(true);
    expect(again.imports!.map((i) => i.handle)).toEqual(first.imports!.map((i) => i.handle));
    // A crash-and-resend with another chunk size: other job sets, so other keys and no refusal.
    before = posts().length;
    const rechunked = await resend(batch, { maxOperationsPerRequest: 3 });
    const newKeys = keysOf(posts().slice(before));
    expect(newKeys.filter((k) => firstKeys.includes(k))).toEqual([]);
    expect(posts().slice(before).map((r) => r.status)).toEqual([202, 202]);
    expect(rechunked.outcomes).toEqual([]);
  });

  it('the fake refuses a key reused with another body (422) and replays one reused with the same body', async () => {
    const post = (key: string, body: unknown) =>
      fetch(`${fake.url}/operations/batch`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json', 'idempotency-key': key },
        body: JSON.stringify(body),
      }).then(async (r) => ({ status: r.status, doc: (await r.json()) as Record<string, unknown> }));
    const first = await post('reuse-key', { operations: [{ sku: 'A' }] });
    expect(first.status).toBe(202);
    expect(await post('reuse-key', { operations: [{ sku: 'A' }] })).toEqual(first);
    const other = await post('reuse-key', { operations: [{ sku: 'B' }] });
    expect(other).toMatchObject({ status: 422, doc: { error_code: 'IDEMPOTENCY_KEY_REUSED' } });
  });

  it('keeps accepted requests when a later one is throttled, and retries only the rest after Retry-After', async () => {
    fake.script('submit', { status: 202, body: { status: 'accepted', operation_ids: ['x-1', 'x-2'] } }, { status: 429, retryAfter: 7 });
    const before = posts().length;
    const result = await upload(operations(5), { maxOperationsPerRequest: 2 });
    expect(posts().length - before).toBe(2);
    expect(result.imports!.map((i) => i.jobs.map((j) => j.correlationKey))).toEqual([['x-1', 'x-2']]);
    expect(result.outcomes).toHaveLength(3);
    for (const outcome of result.outcomes) expect(outcome).toMatchObject({ kind: 'retry', retryAfterMs: 7_000 });
  });

  it('keys jobs by operation id (one id per item) or by index (one id for the batch)', async () => {
    const items = await upload(operations(2));
    expect(items.imports![0]!.handle).toMatchObject({ mode: 'items' });
    expect(items.imports![0]!.jobs.map((j) => j.correlationKey)).toEqual(items.imports![0]!.handle.operationIds);
    const batch = await upload(operations(2), {}, 'batch');
    expect(batch.imports![0]!.handle).toMatchObject({ mode: 'batch', count: 2 });
    expect(batch.imports![0]!.jobs.map((j) => j.correlationKey)).toEqual(['0', '1']);
  });

  it('aborts the chunk when a 202 carries neither one id per operation nor one for the batch', async () => {
    fake.script('submit', { status: 202, body: { status: 'accepted', operation_ids: ['a', 'b'] } });
    const result = await upload(operations(3));
    expect(result.outcomes.map((o) => o.kind)).toEqual(['aborted', 'aborted', 'aborted']);
    expect(result.outcomes[0]).toMatchObject({ reason: expect.stringContaining('2 operation ids for 3 operations') });
  });

  it('does not check an operation before pollIntervalMs has passed', async () => {
    const config = configFor({ pollIntervalMs: 60_000 });
    const before = fake.requestCount();
    const result = await manager.poll({ importId: '1', uploadId: '1', handle: { mode: 'items', operationIds: ['op-1'] }, startedAt: Date.now(), pollCount: 0 }, callContext(config, { session: openSession(manager, config) }).ctx);
    expect(result).toMatchObject({ status: 'in_progress' });
    expect(result.status === 'in_progress' && result.retryAfterMs).toBeGreaterThan(59_000);
    expect(fake.requestCount()).toBe(before);
  });

  it('reports refused credentials as a ConfigError on "headers" without quoting them', async () => {
    const error = await upload(operations(1), { headers: { Authorization: 'Bearer tok_wrong_wrong_wrong' } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).field).toBe('headers');
    expect((error as Error).message).not.toContain('tok_wrong_wrong_wrong');
  });

  it('refuses headers the manager sets itself', () => {
    expect(() => configFor({ headers: { 'Idempotency-Key': 'x' } })).toThrow(/headers.*Idempotency-Key/);
  });
});
