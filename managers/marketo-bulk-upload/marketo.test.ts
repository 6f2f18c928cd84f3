import { describe, expect, it } from 'vitest';
import type { JsonObject } from '../../src/manager/contract.ts';
import { ConfigError, PermanentError, RetryableError, SnoozeError } from '../../src/manager/errors.ts';
import { openSession, settleUpload } from '../../test/conformance/harness.ts';
import { runManagerConformance } from '../../test/conformance/suite.ts';
import type { MarketoSession } from './api.ts';
import { marketoError } from './errors.ts';
import marketo from './index.ts';
import { leads, marketoTestEnv, uploadTo } from './test/helpers.ts';
import { startMarketoFake, type MarketoFakeOptions } from './test/marketo-fake.ts';

runManagerConformance({
  manager: marketo,
  variant: 'leads',
  async setup() {
    const fake = await startMarketoFake();
    return fake.conformanceSetup(fake.config());
  },
  sampleEvents: (n) => leads(n),
  badEvent: { firstName: 'has no email' },
});

runManagerConformance({
  manager: marketo,
  variant: 'customObject',
  async setup() {
    const fake = await startMarketoFake();
    return fake.conformanceSetup(fake.config({ object: 'customObject', customObjectApiName: 'car_c', fieldMapping: { vin: 'vin', make: 'make', model: 'model' } }));
  },
  sampleEvents: (n) => Array.from({ length: n }, (_, i) => ({ vin: `WBA4R7C55HK${String(i).padStart(6, '0')}`, make: 'bmw', model: `${300 + i}i` })),
  badEvent: { color: 'red' },
});

runManagerConformance({
  manager: marketo,
  variant: 'programMembers',
  async setup() {
    const fake = await startMarketoFake({ programIds: [1042] });
    return fake.conformanceSetup(fake.config({ object: 'programMembers', programId: 1042, programMemberStatus: 'On List' }));
  },
  sampleEvents: (n) => leads(n),
  badEvent: { firstName: 'has no email' },
});

describe('marketo-bulk-upload against the fake', () => {
  const env = marketoTestEnv();
  /** Uploads `events` once, as the router would, with a session shared by `session`. */
  const upload = (events: JsonObject[], config: Record<string, unknown> = {}, session?: MarketoSession) => uploadTo(env.fake, env.stagingDir, events, config, session);
  const start = (options: MarketoFakeOptions = {}) => env.start(options);
  const failure = (promise: Promise<unknown>) => promise.then(() => expect.fail('expected a failure'), (error: unknown) => error as Error);

  it('sends one CSV file with the mapped header and form fields, bearer token in a header only', async () => {
    await start();
    const { result } = await upload(leads(3), { listId: 42, partitionName: 'EMEA', lookupField: 'email' });
    expect(result.outcomes).toEqual([]);
    expect(result.imports).toHaveLength(1);
    const [imp] = [...env.fake.imports.values()];
    expect(imp!.header).toEqual(['email', 'firstName', 'company']);
    expect(imp!.rows).toBe(3);
    expect(imp!.form).toMatchObject({ format: 'csv', lookupField: 'email', listId: '42', partitionName: 'EMEA' });
    expect(result.imports![0]!.handle).toMatchObject({ batchId: imp!.batchId, rows: 3, columns: ['email', 'firstName', 'company'] });
    const sent = env.fake.requests('upload')[0]!;
    expect(sent.url).toBe('/bulk/v1/leads.json?format=csv');
    expect(sent.authorization).toMatch(/^Bearer mkto-/);
    expect(env.fake.requests('token')[0]).toMatchObject({ method: 'POST', url: '/identity/oauth/token' });
    for (const request of env.fake.requests()) {
      expect(request.url).not.toContain(env.fake.clientSecret);
      expect(request.url).not.toMatch(/access_token|client_secret/);
    }
  });

  it('reuses one token across calls of a session and renews it after 602', async () => {
    await start();
    const session = openSession(marketo, marketo.configSchema.parse(env.fake.config()));
    await upload(leads(2), {}, session);
    await upload(leads(2, 'v'), {}, session);
    expect(env.fake.tokens.issued).toBe(1);
    env.fake.expireTokens();
    const { result } = await upload(leads(2, 'w'), {}, session);
    expect(result.imports).toHaveLength(1);
    expect(env.fake.tokens.issued).toBe(2);
    expect(env.fake.requests('upload').map((r) => r.status)).toEqual([200, 200, 200, 200]);
  });

  it('splits a batch into files under maxFileBytes and aborts a row that can never fit', async () => {
    await start();
    const events = [...leads(30), { email: `${'x'.repeat(400)}@example.com`, firstName: 'huge' }];
    const { result, ctx, built } = await upload(events, { maxFileBytes: 400 });
    expect(result.outcomes).toEqual([{ jobId: built.batch.jobIds[30], kind: 'aborted', reason: expect.stringContaining('maxFileBytes') }]);
    const imports = [...env.fake.imports.values()];
    expect(imports.length).toBeGreaterThan(2);
    for (const imp of imports) expect(imp.fileBytes).toBeLessThanOrEqual(400);
    expect(imports.reduce((sum, imp) => sum + imp.rows, 0)).toBe(30);
    expect(result.imports!.map((i) => i.handle.part)).toEqual(imports.map((_, i) => i + 1));
    env.fake.completeAll();
    const settled = await settleUpload(marketo, result.imports!, ctx, { uploadId: '77' });
    expect(settled.filter((o) => o.kind === 'succeeded')).toHaveLength(30);
  });

  it('keeps the parts Marketo accepted and snoozes the rest when its queue fills mid-upload', async () => {
    await start({ queueLimit: 2 });
    const { result } = await upload(leads(30), { maxFileBytes: 400 });
    expect(result.imports).toHaveLength(2);
    const snoozed = result.outcomes.filter((o) => o.kind === 'snooze');
    expect(snoozed.length).toBe(30 - result.imports!.flatMap((i) => i.jobs).length);
    expect(snoozed[0]).toMatchObject({ retryAfterMs: 60_000, reason: expect.stringContaining('1016') });
  });

  it('throws SnoozeError when the very first file meets a full queue', async () => {
    await start();
    env.fake.failWith('upload', '1016', 'Too many imports');
    const error = await failure(upload(leads(2), { queueFullRetryMs: 1234 }));
    expect(error).toBeInstanceOf(SnoozeError);
    expect((error as SnoozeError).retryAfterMs).toBe(1234);
  });

  it('backs off on 606 and retries 5xx, naming the code', async () => {
    await start({ rateLimit: { calls: 1, windowMs: 60_000 } });
    await upload(leads(1));
    const limited = await failure(upload(leads(1, 'v')));
    expect(limited).toBeInstanceOf(RetryableError);
    expect((limited as RetryableError).retryAfterMs).toBe(20_000);
    expect(limited.message).toContain('606');
    await env.fake.close();
    await start();
    env.fake.script({ on: 'upload', reply: { status: 503, text: 'down', headers: { 'retry-after': '3' } } });
    const down = await failure(upload(leads(1)));
    expect(down).toBeInstanceOf(RetryableError);
    expect((down as RetryableError).retryAfterMs).toBe(3000);
  });

  it('reports refused credentials as a ConfigError that never quotes the secret', async () => {
    await start();
    const error = await failure(upload(leads(1), { clientSecret: 'wrong-secret-value' }));
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).field).toBe('clientSecret');
    expect(error.message).not.toContain('wrong-secret-value');
    env.fake.failWith('upload', '611', `System error while checking ${env.fake.clientSecret}`);
    const echoed = await failure(upload(leads(1)));
    expect(echoed.message).toContain('[redacted]');
    expect(echoed.message).not.toContain(env.fake.clientSecret);
  });

  it('reads progress while importing and fails an import Marketo failed', async () => {
    await start({ autoCompleteAfterPolls: 3 });
    const { result, ctx } = await upload(leads(4));
    const open = { importId: '1', uploadId: '77', handle: result.imports![0]!.handle, startedAt: Date.now(), pollCount: 0 };
    expect(await marketo.poll(open, ctx)).toEqual({ status: 'in_progress', progress: 50 });
    env.fake.failImport(Number(open.handle.batchId), 'Import failed: system error');
    expect(await marketo.poll(open, ctx)).toMatchObject({ status: 'failed', retryable: true, reason: expect.stringContaining('system error') });
    const bogus = { ...open, handle: { batchId: 999_999, rows: 1, columns: ['email'] } };
    expect(await failure(marketo.poll(bogus, ctx))).toBeInstanceOf(PermanentError);
  });

  it('classifies Marketo codes into retry, snooze, refresh-exhausted, config and abort', () => {
    const context = { what: 'testing', queueFullRetryMs: 60_000 };
    const kinds = Object.fromEntries(
      ['602', '604', '606', '607', '611', '1016', '603', '1006', '609', '1003', '999'].map((code) => [code, marketoError(code, 'm', context).constructor.name]),
    );
    expect(kinds).toEqual({
      602: 'RetryableError', 604: 'RetryableError', 606: 'RetryableError', 607: 'SnoozeError', 611: 'RetryableError',
      1016: 'SnoozeError', 603: 'ConfigError', 1006: 'ConfigError', 609: 'PermanentError', 1003: 'PermanentError', 999: 'RetryableError',
    });
  });

  it('validates its config with the field to fix', () => {
    const parse = (extra: Record<string, unknown>) => () => marketo.configSchema.parse({ ...fakeFreeConfig(), ...extra });
    expect(parse({ restEndpoint: 'https://123-ABC-456.mktorest.com' })).toThrow(/restEndpoint.*\/rest/);
    expect(parse({ lookupField: 'id' })).toThrow(/lookupField/);
    expect(parse({ fieldMapping: { a: 'email', b: 'email' } })).toThrow(/fieldMapping/);
    expect(parse({ maxFileBytes: 20_000_000 })).toThrow(/maxFileBytes/);
    expect(marketo.configSchema.parse(fakeFreeConfig())).toMatchObject({ lookupField: 'email', maxFileBytes: 9_500_000, restEndpoint: 'https://123-ABC-456.mktorest.com/rest' });
  });
});

function fakeFreeConfig(): Record<string, unknown> {
  return {
    restEndpoint: 'https://123-ABC-456.mktorest.com/rest/',
    identityEndpoint: 'https://123-ABC-456.mktorest.com/identity',
    clientId: 'id',
    clientSecret: 'secret',
    fieldMapping: { 'traits.email': 'email' },
  };
}
