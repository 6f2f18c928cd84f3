/**
 * The OAuth flows and the ingest protocol as Salesforce documents them, against the strict fake:
 * token errors mapped to the field that fixes them, the JWT audience apart from the token URL,
 * hardDelete and assignmentRuleId in the job definition, and the fake refusing what Salesforce
 * refuses (so a manager change that breaks the protocol fails here).
 */
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { JsonObject } from '../../src/manager/contract.ts';
import { ConfigError, PermanentError } from '../../src/manager/errors.ts';
import { callContext, openSession } from '../../test/conformance/harness.ts';
import type { SalesforceFakeOptions } from './test/fake.ts';
import { salesforceTestEnv } from './test/helpers.ts';
import salesforce from './index.ts';

const keys = generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
const jwt = { clientSecret: undefined, username: 'integration@example.com', privateKey: keys.privateKey };

describe('salesforce-bulk: OAuth and Bulk API 2.0 as documented', () => {
  const env = salesforceTestEnv();

  async function upload(events: JsonObject[], options: SalesforceFakeOptions = {}, config: Record<string, unknown> = {}) {
    await env.start({ username: jwt.username, publicKey: keys.publicKey, ...options });
    const { built, ctx } = await env.prepare(events, config, { uploadId: '3', throughJson: true });
    return salesforce.upload(built.batch, ctx);
  }
  const refusal = (promise: Promise<unknown>) => promise.then(() => expect.fail('expected a refusal'), (error: unknown) => error as ConfigError);
  const one = [{ email: 'a@example.com', firstName: 'A', lastName: 'B' }];

  it('maps each documented token refusal to the field that fixes it, quoting no secret', async () => {
    const domain = await refusal(upload(one, { sharedLoginHost: true }));
    expect(domain).toBeInstanceOf(ConfigError);
    expect([domain.field, domain.vendorCode]).toEqual(['loginUrl', 'invalid_grant']);
    expect(domain.message).toContain('request not supported on this domain');
    const secret = await refusal(upload(one, {}, { clientSecret: 'not-the-secret' }));
    expect([secret.field, secret.vendorCode]).toEqual(['clientSecret', 'invalid_client']);
    expect(secret.message).not.toContain('not-the-secret');
    expect((await refusal(upload(one, {}, { clientId: 'unknown-key' }))).field).toBe('clientId');
  });

  it('signs the JWT for the audience, not the token URL; a wrong audience is a config error on "audience"', async () => {
    await upload(one, {}, jwt); // default audience https://login.salesforce.com, token URL the fake
    expect(env.fake.requests('create')).toHaveLength(1);
    const sandbox = await upload(one, { audience: 'https://test.salesforce.com' }, { ...jwt, audience: 'https://test.salesforce.com' });
    expect(sandbox.imports).toHaveLength(1);
    const wrong = await refusal(upload(one, { audience: 'https://test.salesforce.com' }, jwt));
    expect([wrong.field, wrong.message]).toEqual(['audience', expect.stringContaining('audience is invalid')]);
    expect((await refusal(upload(one, { username: 'someone-else@example.com' }, jwt))).field).toBe('username');
  });

  it('sends hardDelete and assignmentRuleId in the job definition as Bulk 2.0 documents them', async () => {
    await upload([{ id: '003000000000001AAA' }], {}, { operation: 'hardDelete', fieldMapping: { id: 'Id' } });
    expect([...env.fake.jobs.values()][0]!.definition).toEqual({ object: 'Contact', operation: 'hardDelete', contentType: 'CSV', columnDelimiter: 'COMMA', lineEnding: 'LF' });
    await upload(one, {}, { object: 'Lead', assignmentRuleId: '01Q000000000001AAA' });
    expect([...env.fake.jobs.values()][0]!.definition).toMatchObject({ object: 'Lead', operation: 'insert', assignmentRuleId: '01Q000000000001AAA' });
  });

  it('names "apiVersion" when Salesforce has no such version, and aborts a file over the 150 MB (base64) job limit', async () => {
    const version = await refusal(upload(one, {}, { apiVersion: '99.0' }));
    expect([version.field, version.vendorCode]).toEqual(['apiVersion', 'NOT_FOUND']);
    const big = await upload(one, { maxJobBase64Bytes: 32 }).then(() => expect.fail('expected a refusal'), (error: unknown) => error);
    expect(big).toBeInstanceOf(PermanentError);
    expect((big as Error).message).toMatch(/413.*maxFileBytes/);
    expect([...env.fake.jobs.values()].map((j) => j.state)).toEqual(['Aborted']);
  });

  it('the fake refuses what Salesforce refuses: wrong content type, a PUT after UploadComplete, no token, results before the end', async () => {
    const result = await upload(one);
    const jobId = String(result.imports![0]!.handle.jobId);
    const token = env.fake.requests('create')[0]!.authorization!;
    const call = (method: string, path: string, headers: Record<string, string>, body?: string) =>
      fetch(`${env.fake.url}/services/data/v62.0/jobs/ingest${path}`, { method, headers, body }).then(async (r) => [r.status, await r.json()] as const);
    expect(await call('PUT', `/${jobId}/batches`, { authorization: token, 'content-type': 'text/csv' }, 'Email\nx@y.z\n')).toEqual([400, [expect.objectContaining({ errorCode: 'INVALIDJOBSTATE' })]]);
    expect(await call('POST', '', { authorization: token, 'content-type': 'text/plain' }, '{}')).toEqual([415, [expect.objectContaining({ errorCode: 'UNSUPPORTED_MEDIA_TYPE' })]]);
    expect(await call('GET', `/${jobId}`, {})).toEqual([401, [{ errorCode: 'INVALID_SESSION_ID', message: 'Session expired or invalid' }]]);
    expect(await call('GET', `/${jobId}/failedResults/`, { authorization: token })).toEqual([400, [expect.objectContaining({ errorCode: 'INVALIDJOBSTATE' })]]);
    expect(await call('POST', '', { authorization: token, 'content-type': 'application/json' }, JSON.stringify({ object: 'Contact', operation: 'insert', externalIdFieldName: 'Email' }))).toEqual([
      400,
      [expect.objectContaining({ errorCode: 'INVALIDJOB' })],
    ]);
  });

  it('a job whose data does not end lines as declared fails as a whole, without retries', async () => {
    const result = await upload(one);
    const job = [...env.fake.jobs.values()][0]!;
    job.definition.lineEnding = 'CRLF'; // what a manager declaring CRLF while writing LF would get
    job.dataError = 'ClientInputError : LineEnding is invalid on user data. Current LineEnding setting is CRLF';
    env.fake.completeAll();
    const ctx = callContext(salesforce.configSchema.parse(env.fake.config()), { session: openSession(salesforce, salesforce.configSchema.parse(env.fake.config())) }).ctx;
    const open = { importId: '1', uploadId: '3', handle: result.imports![0]!.handle, startedAt: Date.now(), pollCount: 0 };
    expect(await salesforce.poll(open, ctx)).toMatchObject({ status: 'failed', retryable: false, reason: expect.stringContaining('LineEnding') });
  });
});
