/**
 * Driving the Marketo manager against its fake the way the router does, for the manager's own
 * tests: one upload with a session, then the imports polled to the end.
 */
import type { JsonObject } from '../../../src/manager/contract.ts';
import { buildBatch, callContext, openSession, settleUpload } from '../../../test/conformance/harness.ts';
import type { MarketoSession } from '../api.ts';
import { TUNING_DEFAULTS } from '../../../src/tuning.ts';
import { fakeTestEnv, type FakeTestEnv } from '../../../test/helpers/fake-test-env.ts';
import marketo from '../index.ts';
import { startMarketoFake, type MarketoFake, type MarketoFakeOptions } from './marketo-fake.ts';

export const leads = (n: number, prefix = 'u'): JsonObject[] =>
  Array.from({ length: n }, (_, i) => ({ email: `${prefix}${i}@example.com`, firstName: `Name ${i}`, company: { name: 'Acme, Inc.' } }));

/** Uploads `events` once with `config` over the fake's, sharing `session` when given. */
export async function uploadTo(fake: MarketoFake, stagingDir: string, events: JsonObject[], config: Record<string, unknown> = {}, session?: MarketoSession) {
  const parsed = marketo.configSchema.parse(fake.config(config));
  const built = await buildBatch(marketo, parsed, events, { stagingDir, destinationId: 'mkto', uploadId: '77' });
  // The deadline the router gives an upload call, not the harness's short default: sending two
  // 10 MB files to the in-process fake is real work that a busy machine may stretch past 30 s.
  const ctx = callContext(parsed, { destinationId: 'mkto', session: session ?? openSession(marketo, parsed), timeoutMs: TUNING_DEFAULTS.uploadTimeoutMs }).ctx;
  return { result: await marketo.upload(built.batch, ctx), ctx, built };
}

/** Uploads, lets the fake finish the imports, and returns every job's final outcome by job id. */
export async function deliver(fake: MarketoFake, stagingDir: string, events: JsonObject[], config: Record<string, unknown> = {}) {
  const { result, ctx, built } = await uploadTo(fake, stagingDir, events, config);
  const settled = await settleUpload(marketo, result.imports ?? [], ctx, { uploadId: '77', completeImports: async () => fake.completeAll() });
  const outcomes = new Map([...result.outcomes, ...settled].map((o) => [o.jobId, o]));
  return { outcomes, ids: built.allJobIds, result };
}

/** A test file's Marketo fake and staging directory: the fake is closed after each test, the directory after all. */
export type MarketoTestEnv = FakeTestEnv<MarketoFake, MarketoFakeOptions>;

export const marketoTestEnv = (): MarketoTestEnv => fakeTestEnv(startMarketoFake);
