/**
 * Garbage answers the vendor-answer fuzz test (test/fuzz/vendor-answers/marketo.fuzz.test.ts)
 * found mishandled, each pinned as a plain case: the answer that triggered it, and the typed error
 * it must now give.
 */
import { describe, expect, it } from 'vitest';
import { PermanentError, RetryableError } from '../../src/manager/errors.ts';
import { callContext, openSession } from '../../test/conformance/harness.ts';
import marketo from './index.ts';
import { leads, marketoTestEnv, uploadTo } from './test/helpers.ts';

const rejection = (promise: Promise<unknown>) => promise.then(() => expect.fail('expected a typed error'), (error: unknown) => error as Error);

describe('marketo-bulk-upload: garbage the fuzz test found', () => {
  const env = marketoTestEnv();

  it('refuses totals that add up only thanks to a negative count (was: every row succeeded, the failed one too)', async () => {
    const fake = await env.start({ rowOutcome: (row) => (row.email === 'u0@example.com' ? { fail: '1004 Lead not found' } : undefined) });
    const { result, ctx } = await uploadTo(fake, env.stagingDir, leads(4));
    fake.completeAll();
    const [created] = result.imports!;
    // 4 rows sent: 5 processed and -1 failed "add up", and no failure was counted.
    fake.script({ on: 'status', reply: { status: 200, json: { success: true, result: [{ batchId: created!.handle.batchId, status: 'Complete', numOfLeadsProcessed: 5, numOfRowsFailed: -1, numOfRowsWithWarning: 0 }] } } });
    const open = { importId: 'i-1', uploadId: '77', handle: created!.handle, startedAt: Date.now(), pollCount: 0 };
    const error = await rejection(marketo.poll(open, ctx));
    expect(error).toBeInstanceOf(RetryableError);
    expect((error as RetryableError).code).toBe('bad_vendor_response');
    expect(error.message).toMatch(/numOfRowsFailed -1 .*not a row count/);
  });

  it('refuses a count that would make the progress -Infinity', async () => {
    const fake = await env.start();
    const { result, ctx } = await uploadTo(fake, env.stagingDir, leads(2));
    const [created] = result.imports!;
    fake.script({ on: 'status', reply: { status: 200, json: { success: true, result: [{ status: 'Importing', numOfLeadsProcessed: -1e308 }] } } });
    const open = { importId: 'i-1', uploadId: '77', handle: created!.handle, startedAt: Date.now(), pollCount: 0 };
    expect(await rejection(marketo.poll(open, ctx))).toBeInstanceOf(RetryableError);
  });

  it('reads an error whose message owns a "toString" key (was: TypeError "Cannot convert object to primitive value")', async () => {
    const fake = await env.start();
    fake.script({ on: 'upload', reply: { status: 200, json: { success: false, errors: [{ code: '1004', message: { toString: 1 } }] } } });
    const error = await rejection(uploadTo(fake, env.stagingDir, leads(1)));
    expect(error).toBeInstanceOf(PermanentError);
    expect(error.message).toContain('Marketo error 1004 "{"toString":1}"');
  });

  it('refuses a batchId that is an object owning "toString" (was: TypeError "Cannot convert object to primitive value")', async () => {
    const fake = await env.start();
    fake.script({ on: 'upload', reply: { status: 200, json: { success: true, result: [{ batchId: { toString: 1 }, status: 'Queued' }] } } });
    const error = await rejection(uploadTo(fake, env.stagingDir, leads(1)));
    expect(error).toBeInstanceOf(RetryableError);
    expect((error as RetryableError).code).toBe('bad_vendor_response');
    expect(error.message).toContain('named no batchId');
  });

  it('reads a refused token whose error is an object owning "toString"', async () => {
    const fake = await env.start();
    fake.script({ on: 'token', reply: { status: 401, json: { error: { toString: 1 }, error_description: ['x'] } } });
    const config = marketo.configSchema.parse(fake.config());
    const ctx = callContext(config, { session: openSession(marketo, config) }).ctx;
    const open = { importId: 'i-1', uploadId: '77', handle: { batchId: 1, rows: 1, columns: ['email'], object: 'leads', target: '' }, startedAt: Date.now(), pollCount: 0 };
    const error = await rejection(marketo.poll(open, ctx));
    expect(error.name).toBe('ConfigError');
    expect(error.message).toContain('{"toString":1} ["x"]');
  });
});
