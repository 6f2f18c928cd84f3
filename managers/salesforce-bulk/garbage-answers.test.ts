/**
 * Garbage answers the vendor-answer fuzz test (test/fuzz/vendor-answers/salesforce.fuzz.test.ts)
 * found mishandled, each pinned as a plain case: the answer that triggered it, and the typed error
 * it must now give.
 */
import { describe, expect, it } from 'vitest';
import { ConfigError, PermanentError, RetryableError } from '../../src/manager/errors.ts';
import salesforce from './index.ts';
import { salesforceTestEnv } from './test/helpers.ts';

const rejection = (promise: Promise<unknown>) => promise.then(() => expect.fail('expected a typed error'), (error: unknown) => error as Error);
const contacts = [{ email: 'a@example.com', firstName: 'Ann', lastName: 'Lee' }];

describe('salesforce-bulk: garbage the fuzz test found', () => {
  const env = salesforceTestEnv();

  async function upload() {
    await env.start();
    const { built, ctx } = await env.prepare(contacts, { resultReads: 1 });
    return { ctx, run: () => salesforce.upload(built.batch, ctx) };
  }

  it('reads a refused token whose error owns a "toString" key (was: TypeError "Cannot convert object to primitive value")', async () => {
    const { run } = await upload();
    env.fake.script({ on: 'token', reply: { status: 401, json: { error: { toString: 1 } } } });
    const error = await rejection(run());
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toContain('{"toString":1}');
  });

  it('refuses an instance_url that is not an http(s) URL (was: TypeError "Invalid URL" on the first API call)', async () => {
    const { run } = await upload();
    env.fake.script({ on: 'token', reply: { status: 200, json: { access_token: '00D!tok', instance_url: '' } } });
    const error = await rejection(run());
    expect(error).toBeInstanceOf(RetryableError);
    expect((error as RetryableError).code).toBe('bad_vendor_response');
    expect(error.message).toContain('instance_url "", which is not an http(s) URL');
  });

  it('reads an API error whose code and message are objects', async () => {
    const { run } = await upload();
    env.fake.script({ on: 'create', reply: { status: 400, json: [{ errorCode: { toString: 1 }, message: { valueOf: 1 } }] } });
    const error = await rejection(run());
    expect(error).toBeInstanceOf(PermanentError);
    expect((error as PermanentError).vendorCode).toBe('{"toString":1}');
  });

  it('stops at a result-set locator it already followed (was: 10,000 pages per set until the call deadline)', async () => {
    const { ctx, run } = await upload();
    const result = await run();
    env.fake.completeAll();
    const made = result.imports![0]!;
    const page = { status: 200, contentType: 'text/csv', headers: { 'sforce-locator': 'abc' }, text: '"sf__Id","sf__Created","Email","FirstName","LastName"\n' };
    env.fake.script({ on: 'successfulResults', reply: page, times: 3 });
    const open = { importId: 'i-1', uploadId: '1', handle: made.handle, startedAt: Date.now(), pollCount: 0 };
    const jobs = made.jobs.map((j) => ({ jobId: j.jobId, correlationKey: j.correlationKey ?? null }));
    const error = await rejection(salesforce.getUploadStats(open, jobs, ctx));
    expect(error).toBeInstanceOf(RetryableError);
    expect((error as RetryableError).code).toBe('bad_vendor_response');
    expect(error.message).toMatch(/locator "abc" twice while reading successfulResults/);
    expect(env.fake.requests('successfulResults')).toHaveLength(2);
  });
});
