/**
 * Every manager's transform, in each of its modes, fed hostile events (NUL, lone surrogates,
 * prototype keys, SQL metacharacters, huge strings, and nesting far past what JSON.stringify or a
 * recursive walk survives): it returns a valid row or throws a typed RouterError with a readable
 * reason (the job is aborted with it); never an untyped throw, which the router could only guess at.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RouterError } from '../../src/manager/errors.ts';
import { loadManagers } from '../../src/manager/registry.ts';
import { MAX_TRANSFORM_DEPTH } from '../../src/manager/transform-guard.ts';
import { nastyEvent, nastyJson, RUNS } from './arbitraries.ts';

const marketo = { restEndpoint: 'http://127.0.0.1:9/rest', identityEndpoint: 'http://127.0.0.1:9/identity', clientId: 'id', clientSecret: 'secret' };
const salesforce = { loginUrl: 'http://127.0.0.1:9', clientId: 'id', clientSecret: 'secret', object: 'Contact' };
const sftp = { host: '127.0.0.1', username: 'u', password: 'p', insecureSkipHostKeyCheck: true, pathTemplate: 'drop/{uploadId}.csv' };

/** Valid raw configs for each shipped manager, one per mode its transform branches on. */
const CONFIGS: Record<string, Record<string, unknown>> = {
  webhook: { default: { url: 'http://127.0.0.1:9/hook' } },
  'async-http': { default: { baseUrl: 'http://127.0.0.1:9' } },
  'local-files': { csv: { directory: '/tmp/br-fuzz-out', format: 'csv' }, ndjson: { directory: '/tmp/br-fuzz-out', format: 'ndjson' } },
  'klaviyo-bulk-import': {
    import: { apiKey: 'pk_fuzz' },
    subscribe: { apiKey: 'pk_fuzz', mode: 'subscribe', listId: 'L1', consentChannels: ['email', 'sms'], historicalImport: true, consentedAtPath: 'consentedAt' },
  },
  'marketo-bulk-upload': {
    leads: { ...marketo, fieldMapping: { email: 'email', firstName: 'firstName', 'company.name': 'company', __proto__: 'x' } },
    customObject: { ...marketo, object: 'customObject', customObjectApiName: 'car_c', fieldMapping: { vin: 'vin', 'owner.email': 'email' } },
  },
  'salesforce-bulk': {
    insert: { ...salesforce, operation: 'insert', fieldMapping: { email: 'Email', firstName: 'FirstName', lastName: 'LastName' } },
    upsert: { ...salesforce, operation: 'upsert', externalIdFieldName: 'Ext__c', fieldMapping: { id: 'Ext__c', 'traits.email': 'Email' } },
    delete: { ...salesforce, operation: 'delete', fieldMapping: { id: 'Id' } },
  },
  sftp: { csv: { ...sftp, format: 'csv' }, columns: { ...sftp, format: 'csv', columns: ['id', 'a.b', 'email'] }, ndjson: { ...sftp, format: 'ndjson' } },
};

/** A hostile event with one value nested from a few hundred to far past the stack's reach. */
const deepEvent = fc.tuple(nastyEvent, fc.constantFrom('email', 'firstName', 'company', 'id', 'traits', 'a', 'vin'), fc.integer({ min: 200, max: 30_000 }), fc.boolean())
  .map(([event, key, depth, arrays]) => {
    let value: unknown = 'leaf';
    for (let i = 0; i < depth; i++) value = arrays ? [value] : { name: value };
    return { ...event, [key]: value, email: event.email ?? 'a@example.com' };
  });

const events = fc.oneof(nastyEvent, deepEvent, nastyJson);

/** What a row must be for the manager's upload to read it: always JSON; for CSV, flat cells. */
function expectValidRow(name: string, mode: string, row: unknown, mapped: number | undefined): void {
  expect(() => JSON.stringify(row), 'row is not serialisable').not.toThrow();
  if (mapped !== undefined) {
    expect(Array.isArray(row) && row.every((cell) => typeof cell === 'string'), `${name}: row is not a list of cells`).toBe(true);
    expect((row as string[]).length).toBe(mapped);
  } else if (mode === 'csv' || mode === 'columns') {
    for (const value of Object.values(row as object)) {
      expect(typeof value === 'object' && value !== null && !Array.isArray(value), `${name}: CSV row has a nested object`).toBe(false);
    }
  }
}

describe('fuzz: manager transforms', async () => {
  const managers = await loadManagers();
  it('has configs for every shipped manager', () => {
    expect([...managers.keys()].sort()).toEqual(Object.keys(CONFIGS).sort());
  });
  for (const [name, manager] of managers) {
    for (const [mode, raw] of Object.entries(CONFIGS[name] ?? {})) {
      it(`${name} (${mode}): returns a valid row or throws a typed error with a readable reason`, () => {
        const config = manager.configSchema.parse(raw);
        const mapping = (config as { fieldMapping?: Record<string, string> }).fieldMapping;
        const mapped = mapping && (name === 'marketo-bulk-upload' || name === 'salesforce-bulk') ? Object.keys(mapping).length : undefined;
        fc.assert(fc.property(events, (event) => {
          let row: unknown;
          try {
            row = manager.transform({ jobId: '1', event: event as never, attempt: 1 }, config);
          } catch (error) {
            expect(error, `untyped throw: ${String(error).slice(0, 300)}`).toBeInstanceOf(RouterError);
            const { message } = error as RouterError;
            expect(message.length).toBeGreaterThan(0);
            // The reason is stored with the job and shown by the API: it names the problem, it does not echo the event.
            expect(message.length, message.slice(0, 300)).toBeLessThan(2_000);
            return;
          }
          expectValidRow(name, mode, row, mapped);
        }), RUNS);
      });
    }
  }

  it('refuses an event deeper than the guard with a reason naming the limit', () => {
    let value: unknown = 1;
    for (let i = 0; i < MAX_TRANSFORM_DEPTH + 5; i++) value = [value];
    const marketoManager = managers.get('marketo-bulk-upload')!;
    const config = marketoManager.configSchema.parse(CONFIGS['marketo-bulk-upload']!.leads);
    expect(() => marketoManager.transform({ jobId: '1', event: { email: 'a@b.c', company: value } as never, attempt: 1 }, config))
      .toThrow(expect.objectContaining({ code: 'bad_event', message: expect.stringContaining(`more than ${MAX_TRANSFORM_DEPTH} levels`) }));
  });
});
