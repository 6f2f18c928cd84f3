/**
 * The fixture the Salesforce manager's own tests share: a fake per test, one staging directory per
 * file, and an upload prepared against the fake the way the router prepares one.
 */
import { buildBatch, callContext, openSession, type BuiltBatch } from '../../../test/conformance/harness.ts';
import type { CallContext, JsonObject } from '../../../src/manager/contract.ts';
import { fakeTestEnv, type FakeTestEnv } from '../../../test/helpers/fake-test-env.ts';
import type { CsvRow } from '../../_bulk-csv/rows.ts';
import type { SalesforceSession } from '../api.ts';
import type { SalesforceConfig } from '../config.ts';
import salesforce from '../index.ts';
import { startSalesforceFake, type SalesforceFake, type SalesforceFakeOptions } from './fake.ts';

export interface PrepareOptions {
  /** The batch's upload id; buildBatch's default when absent. */
  uploadId?: string;
  /** Pass the config through JSON first, as a destinations file gives it (`clientSecret: undefined` disappears). */
  throughJson?: boolean;
}

/** A test file's Salesforce fake and staging directory: the fake is closed after each test, the directory after all. */
export interface SalesforceTestEnv extends FakeTestEnv<SalesforceFake, SalesforceFakeOptions> {
  /** The fake's config with `overrides`, parsed; `events` built into a batch; a call context with a fresh session. */
  prepare(events: readonly JsonObject[], overrides?: Record<string, unknown>, options?: PrepareOptions): Promise<PreparedUpload>;
}

export interface PreparedUpload {
  config: SalesforceConfig;
  built: BuiltBatch<CsvRow>;
  ctx: CallContext<SalesforceConfig, SalesforceSession>;
}

export function salesforceTestEnv(): SalesforceTestEnv {
  const env = fakeTestEnv(startSalesforceFake) as SalesforceTestEnv;
  env.prepare = async (events, overrides = {}, options = {}) => {
    const raw: unknown = env.fake.config(overrides);
    const config = salesforce.configSchema.parse(options.throughJson ? JSON.parse(JSON.stringify(raw)) : raw);
    const built = await buildBatch(salesforce, config, events, { stagingDir: env.stagingDir, destinationId: 'sf', uploadId: options.uploadId });
    const ctx = callContext(config, { destinationId: 'sf', session: openSession(salesforce, config) }).ctx;
    return { config, built, ctx };
  };
  return env;
}
