/**
 * salesforce-bulk against garbage, one step at a time (token, job creation, data upload, close,
 * job state, result sets), the other steps answered by the strict Salesforce fake through a real
 * HTTP gate. Every call ends in a typed error or a valid outcome, never hangs, and a job
 * succeeds only on a success row naming it: when the result sets are garbage, only a row of the
 * garbage success set may prove a job delivered. The fake fails row 0.
 */
import fc from 'fast-check';
import salesforce from '../../../managers/salesforce-bulk/index.ts';
import { startSalesforceFake, type SalesforceFake } from '../../../managers/salesforce-bulk/test/fake.ts';
import { csvFile, csvReply, csvVariant, garbledCount, json, jsonReply, junk, wrongValue } from './garbage.ts';
import type { GarbageReply, GateRequest } from './garbage-gate.ts';
import { describeGarbageSteps, fixed, showReply, type Garbage, type Scenario } from './scenario.ts';

const EVENTS = [
  { email: 'fail0@example.com', firstName: 'Ann', lastName: 'Lee' },
  { email: 'u1@example.com', firstName: 'Bo "B"', lastName: 'Ng, Jr.' },
  { email: 'u2@example.com', firstName: 'Cy', lastName: 'Oz' },
];
const ROWS = EVENTS.map((e) => [e.email, e.firstName, e.lastName]);
const COLUMNS = ['Email', 'FirstName', 'LastName'];
const SETS = ['successfulResults', 'failedResults', 'unprocessedrecords'] as const;

const INGEST = /^\/services\/data\/v[\d.]+\/jobs\/ingest/;
const STEPS: Record<string, (r: GateRequest) => boolean> = {
  token: (r) => r.path.startsWith('/services/oauth2/token'),
  create: (r) => r.method === 'POST' && INGEST.test(r.path),
  data: (r) => r.method === 'PUT' && INGEST.test(r.path),
  close: (r) => r.method === 'PATCH' && INGEST.test(r.path),
  state: (r) => r.method === 'GET' && INGEST.test(r.path) && !SETS.some((set) => r.path.includes(`/${set}`)),
  results: (r) => r.method === 'GET' && SETS.some((set) => r.path.includes(`/${set}`)),
};

const sfErrors = fc.oneof(
  fc.array(fc.record({ errorCode: fc.oneof(fc.constantFrom('INVALID_SESSION_ID', 'REQUEST_LIMIT_EXCEEDED', 'INVALIDJOBSTATE', 'API_DISABLED_FOR_ORG'), wrongValue), message: wrongValue }, { requiredKeys: [] }), { maxLength: 2 }),
  wrongValue,
);
const anyStatusOf = (...statuses: number[]) => fc.constantFrom(...statuses);

const GARBAGE: Record<string, fc.Arbitrary<Garbage>> = {
  token: fc.oneof(
    fixed(junk([json({ access_token: '00D!tok', instance_url: 'https://x.my.salesforce.com', token_type: 'Bearer', issued_at: '1' })])),
    fixed(jsonReply(fc.record({ access_token: fc.oneof(fc.constantFrom('00D!unknown', '', 'a\nb'), wrongValue), instance_url: fc.oneof(fc.constantFrom('', 'not a url', 'javascript:alert(1)', 'http://127.0.0.1:9', 'ftp://x'), wrongValue), error: wrongValue, error_description: wrongValue }, { requiredKeys: [] }), anyStatusOf(200, 200, 400, 401, 500))),
  ),
  create: fc.oneof(
    fixed(junk([json({ id: '750R0000000zlh9IAA', state: 'Open', object: 'Contact', operation: 'insert' })])),
    fixed(jsonReply(fc.record({ id: fc.oneof(fc.constantFrom('750unknown', '', '../..', '750R0000000zlh9IAA'), wrongValue), state: wrongValue }, { requiredKeys: [] }))),
    fixed(jsonReply(sfErrors, anyStatusOf(400, 401, 403, 404, 429, 500))),
  ),
  data: fc.oneof(fixed(junk([''])), fixed(jsonReply(sfErrors, anyStatusOf(400, 409, 413, 500)))),
  close: fc.oneof(fixed(junk([json({ id: '750R0000000zlh9IAA', state: 'UploadComplete' })])), fixed(jsonReply(sfErrors, anyStatusOf(400, 409, 500)))),
  state: fc.oneof(
    fixed(junk([json({ id: '750R0000000zlh9IAA', state: 'JobComplete', numberRecordsProcessed: 3, numberRecordsFailed: 1 })])),
    { weight: 3, arbitrary: fixed(jsonReply(fc.record({
      state: fc.oneof(fc.constantFrom('JobComplete', 'JobComplete', 'InProgress', 'Failed', 'Aborted', 'UploadComplete', 'jobcomplete'), wrongValue),
      numberRecordsProcessed: garbledCount(3),
      numberRecordsFailed: garbledCount(1),
      errorMessage: fc.oneof(fc.constantFrom('InvalidBatch : Field name not found', 'ExceededQuota'), wrongValue),
    }, { requiredKeys: ['state'] }))) },
  ),
  results: resultSets(),
};

/** One garbled answer per result set; only rows of a well-formed success set may prove a delivery. */
function resultSets(): fc.Arbitrary<Garbage> {
  const set = (extra: string[], cells: (i: number) => string[]) => fc.oneof(
    junk(['"sf__Id","sf__Created","Email","FirstName","LastName"\n"003000000000001","true","u1@example.com","Bo ""B""","Ng, Jr."\n']).map((r) => ({ r, listed: new Set<number>() })),
    fc.tuple(fc.subarray([0, 1, 2]), csvVariant, fc.option(fc.constantFrom('abc', 'null', ''), { freq: 4 })).chain(([chosen, variant, locator]) => {
      const file = csvFile(COLUMNS, extra, chosen.map((i) => ROWS[i]!), variant, cells);
      const listed = new Set([...file.listed].map((i) => chosen[i]!));
      return csvReply(fc.constant(file.text)).map((r): { r: GarbageReply; listed: Set<number> } => ({ r: locator === null ? r : { ...r, headers: { ...r.headers, 'sforce-locator': locator } }, listed }));
    }),
  );
  return fc.tuple(
    set(['sf__Id', 'sf__Created'], (i) => [`003${String(i).padStart(12, '0')}`, 'true']),
    set(['sf__Id', 'sf__Error'], () => ['', 'REQUIRED_FIELD_MISSING:Required fields are missing: [LastName]']),
    set([], () => []),
  ).map(([success, failed, unprocessed]): Garbage => {
    const bySet = { successfulResults: success.r, failedResults: failed.r, unprocessedrecords: unprocessed.r };
    return {
      reply: (request) => bySet[SETS.find((name) => request.path.includes(`/${name}`)) ?? 'successfulResults'],
      named: success.listed,
      shown: SETS.map((name) => `${name}: ${showReply(bySet[name])}`).join('; '),
    };
  });
}

describeGarbageSteps('fuzz: salesforce-bulk against garbage vendor answers', GARBAGE, (step, stagingDir): Scenario<unknown, unknown, SalesforceFake> => ({
  manager: salesforce as never,
  events: EVENTS,
  stagingDir,
  startVendor: () => startSalesforceFake({ rowOutcome: (row) => (row.Email?.startsWith('fail') ? { error: 'REQUIRED_FIELD_MISSING:Required fields are missing: [LastName]' } : undefined) }),
  config: (url, vendor) => ({ ...vendor.config(), loginUrl: url, resultReads: 2, resultRereadDelayMs: 1, timeoutMs: 10_000 }),
  inStep: STEPS[step]!,
}));

