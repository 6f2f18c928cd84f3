import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { JsonObject } from '../../src/manager/contract.ts';
import { ConfigError, RetryableError, SnoozeError } from '../../src/manager/errors.ts';
import { runManagerConformance } from '../../test/conformance/suite.ts';
import { startSalesforceFake, type SalesforceFakeOptions } from './test/fake.ts';
import { salesforceTestEnv } from './test/helpers.ts';
import salesforce from './index.ts';

const contacts = (n: number, prefix = 'c'): JsonObject[] =>
  Array.from({ length: n }, (_, i) => ({ email: `${prefix}${i}@example.com`, firstName: `First, "${i}"`, lastName: `Last ${i}` }));
const keys = generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });

for (const flow of ['client credentials', 'jwt bearer'] as const) {
  runManagerConformance({
    manager: salesforce,
    variant: flow,
    async setup() {
      const fake = await startSalesforceFake({ username: 'integration@example.com', publicKey: keys.publicKey });
      const jwt = { clientSecret: undefined, username: 'integration@example.com', privateKey: keys.privateKey };
      // Through JSON, as a destinations file would give it: `clientSecret: undefined` disappears.
      return fake.conformanceSetup(JSON.parse(JSON.stringify(fake.config(flow === 'jwt bearer' ? jwt : {}))));
    },
    sampleEvents: (n) => contacts(n),
    badEvent: { nickname: 'carries none of the mapped fields' },
  });
}

describe('salesforce-bulk against the fake', () => {
  const env = salesforceTestEnv();

  async function start(options: SalesforceFakeOptions = {}) {
    await env.start(options);
  }
  async function upload(events: JsonObject[], config: Record<string, unknown> = {}) {
    const { built, ctx } = await env.prepare(events, config, { uploadId: '5' });
    return { result: await salesforce.upload(built.batch, ctx), ctx, built };
  }
  const failure = (promise: Promise<unknown>) => promise.then(() => expect.fail('expected a failure'), (error: unknown) => error as Error);
  const openOf = (handle: JsonObject) => ({ importId: '1', uploadId: '5', handle, startedAt: Date.now(), pollCount: 0 });

  it('creates, fills and closes one ingest job per file, with the token in a header only', async () => {
    await start();
    const { result } = await upload(contacts(3), { operation: 'upsert', externalIdFieldName: 'Email' });
    const [job] = [...env.fake.jobs.values()];
    expect(job!.definition).toEqual({ object: 'Contact', operation: 'upsert', externalIdFieldName: 'Email', contentType: 'CSV', columnDelimiter: 'COMMA', lineEnding: 'LF' });
    expect(job!.state).toBe('UploadComplete');
    expect(job!.header).toEqual(['Email', 'FirstName', 'LastName']);
    expect(job!.rows[0]).toEqual(['c0@example.com', 'First, "0"', 'Last 0']);
    expect(result.imports![0]!.handle).toMatchObject({ jobId: job!.id, rows: 3, columns: ['Email', 'FirstName', 'LastName'] });
    expect(env.fake.requests().map((r) => `${r.method} ${r.route}`)).toEqual(['POST token', 'POST create', 'PUT upload', 'PATCH close']);
    for (const request of env.fake.requests()) expect(request.url).not.toMatch(/secret|token=|assertion/i);
    expect(env.fake.requests('create')[0]!.url).toBe('/services/data/v62.0/jobs/ingest');
  });

  it('aborts the half-made job when uploading its data fails', async () => {
    await start();
    env.fake.script({ on: 'upload', reply: { status: 500, json: [{ errorCode: 'UNKNOWN_EXCEPTION', message: 'boom' }] } });
    expect(await failure(upload(contacts(2)))).toBeInstanceOf(RetryableError);
    expect([...env.fake.jobs.values()].map((j) => j.state)).toEqual(['Aborted']);
  });

  it('snoozes when the org is out of API requests, and names the field of a refused login', async () => {
    await start();
    env.fake.script({ on: 'create', reply: { status: 403, json: [{ errorCode: 'REQUEST_LIMIT_EXCEEDED', message: 'TotalRequests Limit exceeded.' }] } });
    expect(await failure(upload(contacts(1)))).toBeInstanceOf(SnoozeError);
    const refused = await failure(upload(contacts(1), { clientSecret: 'not-the-secret' }));
    expect(refused).toBeInstanceOf(ConfigError);
    expect((refused as ConfigError).field).toBe('clientSecret');
    expect(refused.message).not.toContain('not-the-secret');
  });

  it('polls progress, settles failed and unprocessed records of a job that failed midway', async () => {
    await start({ autoCompleteAfterPolls: 5, rowOutcome: (row) => (row.Email === 'c1@example.com' ? { error: 'INVALID_EMAIL_ADDRESS:Email: invalid email address: c1@example.com' } : undefined) });
    const { result, ctx, built } = await upload(contacts(6));
    const open = openOf(result.imports![0]!.handle);
    expect(await salesforce.poll(open, ctx)).toEqual({ status: 'in_progress', progress: 50 });
    env.fake.failJob(String(open.handle.jobId), 'InternalServerError : retried too often', 4);
    expect(await salesforce.poll(open, ctx)).toEqual({ status: 'completed', hasRecordFailures: true });
    const outcomes = await salesforce.getUploadStats(open, result.imports![0]!.jobs.map((j) => ({ jobId: j.jobId, correlationKey: j.correlationKey ?? null })), ctx);
    const ids = built.batch.jobIds;
    // Every job is settled by a row of its own: success, failure or unprocessed.
    expect(outcomes).toEqual([
      ...[0, 2, 3].map((i) => ({ jobId: ids[i], kind: 'succeeded' })),
      { jobId: ids[1], kind: 'aborted', reason: 'Salesforce rejected the record: INVALID_EMAIL_ADDRESS:Email: invalid email address: c1@example.com', code: 'record_rejected', vendorCode: 'INVALID_EMAIL_ADDRESS' },
      { jobId: ids[4], kind: 'retry', reason: expect.stringContaining('did not process this record (job Failed: InternalServerError'), code: 'record_retryable' },
      { jobId: ids[5], kind: 'retry', reason: expect.stringContaining('did not process'), code: 'record_retryable' },
    ].sort((a, b) => Number(a.jobId) - Number(b.jobId)));
  });

  it('fails a job that did nothing, retrying only when the cause is not the data', async () => {
    await start();
    const { result, ctx } = await upload(contacts(10), { maxFileBytes: 256 });
    const [first, second] = result.imports!.map((i) => openOf(i.handle));
    expect(result.imports).toHaveLength(2);
    env.fake.failJob(String(first!.handle.jobId), 'ClientInputError : Field name not found : Emial');
    expect(await salesforce.poll(first!, ctx)).toMatchObject({ status: 'failed', retryable: false, reason: expect.stringContaining('Field name not found') });
    await salesforce.cancelImport!(second!, ctx);
    expect(env.fake.jobs.get(String(second!.handle.jobId))!.state).toBe('Aborted');
    expect(await salesforce.poll(second!, ctx)).toMatchObject({ status: 'failed', retryable: true, reason: expect.stringContaining('was aborted') });
  });

  it('validates its config with the field to fix', () => {
    const base = { loginUrl: 'https://acme.my.salesforce.com', clientId: 'key', clientSecret: 's3cret', object: 'Contact', operation: 'insert', fieldMapping: { email: 'Email' } };
    const parse = (extra: Record<string, unknown>) => () => salesforce.configSchema.parse({ ...base, ...extra });
    expect(parse({ operation: 'upsert' })).toThrow(/externalIdFieldName/);
    expect(parse({ operation: 'update' })).toThrow(/"Id"/);
    expect(parse({ clientSecret: undefined })).toThrow(/clientSecret/);
    expect(parse({ clientSecret: undefined, username: 'u@x', privateKey: 'not a key' })).toThrow(/privateKey/);
    expect(parse({ clientSecret: undefined, privateKey: keys.privateKey })).toThrow(/username/);
    expect(parse({ apiVersion: 'v62' })).toThrow(/apiVersion/);
    expect(parse({ operation: 'hardDelete', fieldMapping: { id: 'Id', email: 'Email' } })).toThrow(/only "Id" for "hardDelete"/);
    expect(parse({ externalIdFieldName: 'Email' })).toThrow(/externalIdFieldName.*only used by "upsert"/);
    expect(parse({ assignmentRuleId: '01Q000000000001' })).toThrow(/assignmentRuleId.*Lead and Case/);
    expect(parse({ object: 'Lead', assignmentRuleId: '00Q000000000001' })).toThrow(/assignmentRuleId/);
    expect(parse({ loginUrl: 'https://login.salesforce.com' })).toThrow(/"loginUrl" must be your org's My Domain URL/);
    expect(parse({ loginUrl: 'https://test.salesforce.com' })).toThrow(/loginUrl/);
    expect(parse({ audience: 'https://test.salesforce.com' })).toThrow(/audience.*JWT bearer/);
    expect(salesforce.configSchema.parse({ ...base, object: 'Lead', assignmentRuleId: '01Q000000000001AAA' })).toMatchObject({ assignmentRuleId: '01Q000000000001AAA' });
    expect(salesforce.configSchema.parse(base)).toMatchObject({ apiVersion: '62.0', maxFileBytes: 100_000_000 });
  });
});
