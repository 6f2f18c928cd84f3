/**
 * Every manager's transform, fed hostile events: it returns a row or throws a typed
 * PermanentError (the job is aborted with that reason); never an untyped throw, which the router
 * could only guess at.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RouterError } from '../../src/manager/errors.ts';
import { loadManagers } from '../../src/manager/registry.ts';
import { nastyEvent, RUNS } from './arbitraries.ts';

/** A valid raw config for each shipped manager; transforms read mappings and formats from it. */
const CONFIGS: Record<string, unknown> = {
  webhook: { url: 'http://127.0.0.1:9/hook' },
  'async-http': { baseUrl: 'http://127.0.0.1:9' },
  'local-files': { directory: '/tmp/br-fuzz-out' },
  'klaviyo-bulk-import': { apiKey: 'pk_fuzz' },
  'marketo-bulk-upload': {
    restEndpoint: 'http://127.0.0.1:9/rest', identityEndpoint: 'http://127.0.0.1:9/identity', clientId: 'id', clientSecret: 'secret',
    fieldMapping: { email: 'email', firstName: 'firstName', 'company.name': 'company', __proto__: 'x' },
  },
  'salesforce-bulk': {
    loginUrl: 'http://127.0.0.1:9', clientId: 'id', clientSecret: 'secret', object: 'Contact', operation: 'insert',
    fieldMapping: { email: 'Email', firstName: 'FirstName', lastName: 'LastName' },
  },
  sftp: { host: '127.0.0.1', username: 'u', password: 'p', insecureSkipHostKeyCheck: true, pathTemplate: 'drop/{uploadId}.csv', format: 'csv' },
};

describe('fuzz: manager transforms', async () => {
  const managers = await loadManagers();
  it('has a config for every shipped manager', () => {
    expect([...managers.keys()].sort()).toEqual(Object.keys(CONFIGS).sort());
  });
  for (const [name, manager] of managers) {
    it(`${name}: returns a JSON-serialisable row or throws a typed error`, () => {
      const config = manager.configSchema.parse(CONFIGS[name]);
      fc.assert(fc.property(nastyEvent, (event) => {
        let row: unknown;
        try {
          row = manager.transform({ jobId: '1', event: event as never, attempt: 1 }, config);
        } catch (error) {
          expect(error, `untyped throw: ${String(error)}`).toBeInstanceOf(RouterError);
          expect((error as RouterError).message.length).toBeGreaterThan(0);
          return;
        }
        expect(() => JSON.stringify(row)).not.toThrow();
      }), RUNS);
    });
  }
});
