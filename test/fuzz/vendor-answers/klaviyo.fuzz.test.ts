/**
 * klaviyo-bulk-import against garbage, one step at a time (job creation, job status, import
 * errors), the other steps answered by the strict Klaviyo fake through a real HTTP gate. Every
 * call ends in a typed error or a valid outcome, never hangs, and no job succeeds unless the
 * garbage is a well-formed answer that proves it: a complete job whose counts cover the profiles
 * sent, or an error listing that accounts for every failure counted. The fake fails profile 0
 * (a phone number that is not E.164).
 */
import fc from 'fast-check';
import klaviyo from '../../../managers/klaviyo-bulk-import/index.ts';
import type { JsonObject } from '../../../src/manager/contract.ts';
import { startKlaviyoFake, type KlaviyoFake } from '../../../managers/klaviyo-bulk-import/test/klaviyo-fake.ts';
import { garbledCount, json, jsonReply, junk, okStatus, reply, wrongValue } from './garbage.ts';
import type { GateRequest } from './garbage-gate.ts';
import { delivered, describeGarbageSteps, fixed, showReply, type Garbage, type Scenario } from './scenario.ts';

const EVENTS: JsonObject[] = [
  { email: 'a0@example.com', phone: '12345' },
  { email: 'a1@example.com', firstName: 'Bo' },
  { email: 'a2@example.com', userId: 'ext-2' },
];
const PROFILES = [
  { email: 'a0@example.com', phone_number: '12345' },
  { email: 'a1@example.com', first_name: 'Bo' },
  { email: 'a2@example.com', external_id: 'ext-2' },
];
const NONE: ReadonlySet<number> = new Set();

const JOBS = '/api/profile-bulk-import-jobs';
const STEPS: Record<string, (r: GateRequest) => boolean> = {
  create: (r) => r.method === 'POST' && r.path.startsWith(JOBS),
  job: (r) => r.method === 'GET' && r.path.startsWith(`${JOBS}/`) && !r.path.includes('/import-errors'),
  errors: (r) => r.method === 'GET' && r.path.includes('/import-errors'),
};

const isCount = (value: unknown): value is number => typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;

const errorList = fc.oneof(
  fc.array(fc.record({
    code: fc.oneof(fc.constantFrom('invalid', 'throttled', 'not_found'), wrongValue),
    detail: wrongValue,
    title: wrongValue,
    source: fc.oneof(fc.record({ pointer: fc.oneof(fc.constantFrom('/data/attributes/profiles/data/0/attributes/email', '/data/attributes/profiles/data/9', '/data/attributes/profiles/data/1'), wrongValue), parameter: fc.oneof(fc.constant('revision'), wrongValue) }, { requiredKeys: [] }), wrongValue),
  }, { requiredKeys: [] }), { maxLength: 3 }),
  wrongValue,
);

const GARBAGE: Record<string, fc.Arbitrary<Garbage>> = {
  create: fc.oneof(
    fixed(junk([json({ data: { type: 'profile-bulk-import-job', id: 'JOB1', attributes: { status: 'queued', total_count: 3 } } })])),
    fixed(jsonReply(fc.record({ data: fc.oneof(fc.record({ id: fc.oneof(fc.constantFrom('JOB-unknown', '', '../x'), wrongValue), type: wrongValue }, { requiredKeys: [] }), wrongValue) }, { requiredKeys: [] }))),
    fixed(jsonReply(fc.record({ errors: errorList }), fc.constantFrom(400, 400, 401, 403, 409, 410, 413, 429, 500))),
  ),
  job: fc.oneof(
    fixed(junk([json({ data: { type: 'profile-bulk-import-job', id: 'JOB1', attributes: { status: 'complete', total_count: 3, completed_count: 2, failed_count: 1 } } })])),
    { weight: 4, arbitrary: jobDocument() },
    fixed(jsonReply(fc.record({ errors: errorList }), fc.constantFrom(400, 401, 404, 410, 429, 500))),
  ),
  errors: fc.oneof(
    fixed(junk([json({ data: [{ type: 'import-error', id: 'e1', attributes: { code: 'invalid_phone_number', detail: 'not E.164', original_payload: { type: 'profile', attributes: PROFILES[0] } } }], links: { next: null } })])),
    { weight: 4, arbitrary: errorPages() },
  ),
};

/** A job resource with garbled counts; `named` is 'all' only for a complete job with well-formed counts. */
function jobDocument(): fc.Arbitrary<Garbage> {
  const attributes = fc.record({
    status: fc.oneof({ weight: 4, arbitrary: fc.constantFrom('complete', 'complete', 'complete', 'queued', 'processing', 'cancelled', 'Complete') }, { weight: 1, arbitrary: wrongValue }),
    total_count: garbledCount(3),
    completed_count: garbledCount(2),
    failed_count: garbledCount(1),
  }, { requiredKeys: ['status'] });
  return fc.tuple(attributes, okStatus).chain(([a, status]) => reply(fc.constant(json({ data: { type: 'profile-bulk-import-job', id: 'JOB1', attributes: a } })), fc.constant(status), fc.constant('application/vnd.api+json')).map((r): Garbage => {
    // Klaviyo merges profiles sharing an identity, so a total below the profiles sent can be true;
    // counts that are missing, not whole numbers from 0 up, or a total of 0 prove nothing.
    const covers = delivered(r) && a.status === 'complete' && isCount(a.total_count) && isCount(a.completed_count) && isCount(a.failed_count) && a.total_count >= 1;
    return { reply: () => r, named: covers ? 'all' : NONE, shown: showReply(r) };
  }));
}

/** Import-error pages listing some profiles, with payloads garbled. */
function errorPages(): fc.Arbitrary<Garbage> {
  const payload = (i: number) => fc.oneof(
    { weight: 3, arbitrary: fc.constant<unknown>({ type: 'profile', attributes: PROFILES[i] }) },
    fc.constant<unknown>(PROFILES[i]),
    fc.constant<unknown>({ type: 'profile', attributes: { email: `nobody${i}@example.com` } }),
    wrongValue,
  );
  const item = (i: number) => fc.oneof(
    { weight: 4, arbitrary: fc.record({ type: fc.constant('import-error'), id: fc.constant(`e${i}`), attributes: fc.record({ code: fc.oneof(fc.constant('invalid'), wrongValue), detail: wrongValue, original_payload: payload(i) }, { requiredKeys: ['original_payload'] }) }).map((it) => ({ it, exact: it.attributes.original_payload === undefined ? false : JSON.stringify(it.attributes.original_payload).includes(PROFILES[i]!.email) })) },
    wrongValue.map((it) => ({ it, exact: false })),
  );
  const next = fc.oneof({ weight: 4, arbitrary: fc.constant(null) }, fc.constantFrom('/api/profile-bulk-import-jobs/JOB1/import-errors?page%5Bcursor%5D=MQ', 'http://elsewhere.invalid/x', '::not a url::', ''), wrongValue);
  return fc.tuple(fc.subarray([0, 1, 2]).chain((chosen) => fc.tuple(...chosen.map(item)).map((items) => ({ chosen, items }))), next, okStatus)
    .chain(([{ chosen, items }, link, status]) => reply(fc.constant(json({ data: items.map((x) => x.it), links: { next: link } })), fc.constant(status), fc.constant('application/vnd.api+json')).map((r): Garbage => {
      // Jobs not listed may succeed only when every listed error names a profile sent (then the
      // listing accounts for the one failure counted). A next link only adds ways to fail.
      const accounts = items.length > 0 && items.every((x) => x.exact);
      return { reply: () => r, named: accounts ? new Set([0, 1, 2].filter((i) => !chosen.includes(i))) : NONE, shown: `rows ${chosen.join(',')}, next ${json(link)}: ${showReply(r)}` };
    }));
}

describeGarbageSteps('fuzz: klaviyo-bulk-import against garbage vendor answers', GARBAGE, (step, stagingDir): Scenario<unknown, unknown, KlaviyoFake & { completeAll(): Promise<void> }> => ({
  manager: klaviyo as never,
  events: EVENTS,
  stagingDir,
  startVendor: async () => {
    // Rate limits are not under test here: roomy ones keep every call short.
    const fake = await startKlaviyoFake({ errorsLateBy: 0, rateLimits: { burst: 10_000, steady: 100_000 } });
    return { ...fake, completeAll: fake.finishAll };
  },
  config: (url, vendor) => ({ apiKey: vendor.apiKey, baseUrl: url, resultRereads: 1, resultRereadDelayMs: 1, unconfirmedPolicy: 'resend', rateLimitPerMinute: 100_000, rateLimitBurst: 10_000 }),
  inStep: STEPS[step]!,
}));
