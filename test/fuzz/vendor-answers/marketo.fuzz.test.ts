/**
 * marketo-bulk-upload against garbage, one step at a time (token, import creation, status, failure
 * and warning files), the other steps answered by the strict Marketo fake through a real HTTP gate. Every call
 * ends in a typed error or a valid outcome, never hangs, and no job succeeds unless the garbage
 * is a well-formed answer that proves it (totals that add up, a failure listing that accounts
 * for them). The fake fails row 0 and warns on row 1, so success always rests on the evidence.
 */
import fc from 'fast-check';
import marketo from '../../../managers/marketo-bulk-upload/index.ts';
import { startMarketoFake, type MarketoFake } from '../../../managers/marketo-bulk-upload/test/marketo-fake.ts';
import { csvFile, csvReply, csvVariant, garbledCount, json, jsonReply, junk, okStatus, reply, wrongValue } from './garbage.ts';
import type { GarbageReply, GateRequest } from './garbage-gate.ts';
import { delivered, describeGarbageSteps, fixed, showReply, type Garbage, type Scenario } from './scenario.ts';

const EVENTS = [
  { email: 'fail0@example.com', firstName: 'Ann', company: { name: 'Acme, Inc.' } },
  { email: 'warn1@example.com', firstName: 'Bo "B"', company: { name: 'X' } },
  { email: 'u2@example.com', firstName: 'Cy', company: { name: 'Y' } },
  { email: 'u3@example.com', firstName: 'Di', company: { name: 'Z' } },
];
/** The cells as sent, in the columns' order. */
const ROWS = EVENTS.map((e) => [e.email, e.firstName, e.company.name]);
const COLUMNS = ['email', 'firstName', 'company'];
const WARNED = new Set([1]);

const STEPS: Record<string, (r: GateRequest) => boolean> = {
  token: (r) => r.path.startsWith('/identity/oauth/token'),
  upload: (r) => r.method === 'POST' && r.path.startsWith('/bulk/v1/leads.json'),
  status: (r) => /^\/bulk\/v1\/leads\/batch\/[^/]+\.json/.test(r.path),
  failures: (r) => /\/failures\.json/.test(r.path),
  warnings: (r) => /\/warnings\.json/.test(r.path),
};

const ok = (result: unknown) => ({ requestId: 'r#1', success: true, result });
const isCount = (value: unknown): value is number => typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;

const errorEnvelope = fc.record({
  success: fc.constantFrom(false, false, null),
  errors: fc.oneof(fc.array(fc.record({ code: fc.oneof(fc.constantFrom('601', '602', '606', '1016', '1004', '611', '9999', 603), wrongValue), message: wrongValue }), { maxLength: 2 }), wrongValue),
});

const GARBAGE: Record<string, fc.Arbitrary<Garbage>> = {
  token: fc.oneof(
    fixed(junk([json({ access_token: 'tok-1', token_type: 'bearer', expires_in: 3599, scope: 'x' })])),
    fixed(jsonReply(fc.record({ access_token: fc.oneof(fc.constantFrom('tok-unknown', '', 'a\nb', 'tök€n'), wrongValue), expires_in: garbledCount(3600), error: wrongValue }, { requiredKeys: [] }), fc.constantFrom(200, 200, 400, 401, 500))),
  ),
  upload: fc.oneof(
    fixed(junk([json(ok([{ batchId: 1000, importId: '1000', status: 'Queued' }]))])),
    fixed(jsonReply(fc.oneof(errorEnvelope, fc.record({ success: fc.oneof(fc.constant(true), wrongValue), result: fc.oneof(fc.array(fc.record({ batchId: garbledCount(1000), status: wrongValue }), { maxLength: 2 }), wrongValue) })))),
  ),
  status: fc.oneof(
    { weight: 1, arbitrary: fixed(junk([json(ok([{ batchId: 1000, status: 'Complete', numOfLeadsProcessed: 3, numOfRowsFailed: 1, numOfRowsWithWarning: 1, message: 'Import completed with errors' }]))])) },
    { weight: 4, arbitrary: statusDocument() },
    { weight: 1, arbitrary: fixed(jsonReply(errorEnvelope)) },
  ),
  failures: fc.oneof(
    fixed(junk(['"email","firstName","company","Import Failure Reason"\n"fail0@example.com","Ann","Acme, Inc.","1004 Lead not found"\n'])),
    failureFile(),
  ),
  // Warned rows were imported whatever the warning file says (the totals and the failure file,
  // genuine here, are the evidence), so only typed errors and valid outcomes are demanded.
  warnings: fc.oneof(
    fixed(junk(['"email","firstName","company","Import Warning Reason"\n"warn1@example.com","Bo ""B""","X","1003 Field truncated"\n'])),
    fc.tuple(fc.subarray([0, 1, 2, 3], { minLength: 1 }), csvVariant).chain(([chosen, variant]) =>
      fixed(csvReply(fc.constant(csvFile(COLUMNS, ['Import Warning Reason'], chosen.map((i) => ROWS[i]!), variant, () => ['1003 Field truncated']).text)))),
  ),
};

/** A status document with garbled counts; `named` says whether it is a valid, self-consistent Complete. */
function statusDocument(): fc.Arbitrary<Garbage> {
  const doc = fc.record({
    batchId: fc.constantFrom(1000, 1000, -1, '1000'),
    status: fc.oneof({ weight: 4, arbitrary: fc.constantFrom('Complete', 'Complete', 'Complete', 'Queued', 'Importing', 'Failed', 'complete') }, { weight: 1, arbitrary: wrongValue }),
    numOfRowsWithWarning: garbledCount(1),
    message: fc.oneof(fc.constantFrom('Import completed', 'Invalid header'), wrongValue),
  }, { requiredKeys: ['status'] });
  // Totals that disagree outright, or that add up to the rows sent only thanks to a negative,
  // fractional or huge count.
  const counts = fc.oneof(
    fc.record({ numOfLeadsProcessed: garbledCount(3), numOfRowsFailed: garbledCount(1) }, { requiredKeys: [] }),
    fc.constantFrom(5, 6, 3.5, 4, 3, 1e308, -1).map((processed) => ({ numOfLeadsProcessed: processed, numOfRowsFailed: ROWS.length - processed })),
  );
  return fc.tuple(fc.tuple(doc, counts).map(([d, c]) => ({ ...d, ...c })), fc.constantFrom(true, true, true, false), okStatus).chain(([d, wrapped, status]) => reply(fc.constant(json(ok(wrapped ? [d] : d))), fc.constant(status), fc.constant('application/json')).map((r): Garbage => {
    const valid = wrapped && delivered(r) && d.status === 'Complete' && isCount(d.numOfLeadsProcessed) && isCount(d.numOfRowsFailed) && d.numOfLeadsProcessed + d.numOfRowsFailed === ROWS.length;
    return { reply: () => r, named: valid ? 'all' : WARNED, shown: showReply(r) };
  }));
}

/** A failure file listing some rows, garbled; `named` is what a well-formed listing of exactly one failure proves. */
function failureFile(): fc.Arbitrary<Garbage> {
  return fc.tuple(fc.subarray([0, 1, 2, 3], { minLength: 1 }), csvVariant).chain(([chosen, variant]) => {
    const file = csvFile(COLUMNS, ['Import Failure Reason'], chosen.map((i) => ROWS[i]!), variant, () => ['1004 Lead not found']);
    const listed = new Set([...file.listed].map((i) => chosen[i]!));
    return csvReply(fc.constant(file.text)).map((r): Garbage => {
      const wellFormed = delivered(r) && !/json/.test(r.headers['content-type'] ?? '') && ((variant === 'exact' && chosen.length === 1) || (variant === 'fewer' && chosen.length === 2));
      return { reply: () => r, named: wellFormed ? new Set([0, 1, 2, 3].filter((i) => !listed.has(i))) : WARNED, shown: `${variant} of rows ${chosen.join(',')}: ${showReply(r)}` };
    });
  });
}

describeGarbageSteps('fuzz: marketo-bulk-upload against garbage vendor answers', GARBAGE, (step, stagingDir): Scenario<unknown, unknown, MarketoFake> => ({
  manager: marketo as never,
  events: EVENTS,
  stagingDir,
  startVendor: () => startMarketoFake({ rowOutcome: (row) => (row.email?.startsWith('fail') ? { fail: '1004 Lead not found' } : row.email?.startsWith('warn') ? { warn: '1003 Field truncated' } : undefined) }),
  config: (url, vendor) => ({ ...vendor.config(), restEndpoint: `${url}/rest`, identityEndpoint: `${url}/identity`, resultRereads: 1, timeoutMs: 10_000 }),
  inStep: STEPS[step]!,
}));
