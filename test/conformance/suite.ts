/**
 * The manager conformance suite: the behaviour every manager owes the router, checked the same
 * way for all of them. A manager's test file calls `runManagerConformance` once with a fake
 * vendor (or a temp dir) and then adds its own vendor-specific cases.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JsonObject, Manager, UploadResult } from '../../src/manager/contract.ts';
import { PermanentError, RouterError } from '../../src/manager/errors.ts';
import { ERROR_CODES } from '../../src/manager/error-codes.ts';
import { caught, expectConfigError, expectExactlyOnce, expectWellFormed, secretValues, within } from './checks.ts';
import { buildBatch, callContext, closeSession, deepFreeze, openSession, settleUpload, tempDir } from './harness.ts';

export interface ConformanceSetup {
  /** A raw, valid destination config pointing at the fake vendor. */
  config: unknown;
  cleanup(): Promise<void>;
  /** tells the fake to make the vendor finish any open imports */
  completeImports?(): Promise<void>;
  /** Calls that reached the vendor so far; enables the "made no vendor call" checks. */
  vendorCalls?(): Promise<number>;
  /**
   * Makes the fake vendor report the results of imports completed from now on inconsistently, as
   * a real vendor can while its result files are still being written or when it is broken:
   * - `undercount`: its totals count more failed rows than its failure listing shows;
   * - `stray-row`: its failure listing has a row that matches no job of the import (and the totals
   *   count it).
   * Every async manager must provide it: the suite then checks that no job of such an import ends
   * `succeeded` without the vendor's evidence (it is re-sent or ends with an `outcome_unconfirmed`
   * reason, per the manager's documented policy).
   */
  misreport?(mode: 'undercount' | 'stray-row'): Promise<void>;
}

export interface ConformanceOptions<Config, Row> {
  manager: Manager<Config, Row>;
  /** Called once per test: start the fake vendor and return a config for it. */
  setup(): Promise<ConformanceSetup>;
  /** `n` valid, distinct events. */
  sampleEvents(n: number): JsonObject[];
  /** An event `transform` must reject with PermanentError. */
  badEvent?: JsonObject;
  /** Longest wait for imports to finish; default 20 s. */
  importDeadlineMs?: number;
  /** Tells runs apart when a manager is checked in several configurations ("csv", "ndjson"). */
  variant?: string;
  /**
   * Why this variant's vendor gives no per-record result listing to be inconsistent (Klaviyo's bulk
   * subscribe answers 202 with no body); only then is check (i) skipped.
   */
  noResultListing?: string;
}

export function runManagerConformance<Config, Row>(options: ConformanceOptions<Config, Row>): void {
  const { manager } = options;
  const isAsync = !manager.fireAndForget;
  const deadlineMs = options.importDeadlineMs ?? 20_000;
  let staging: Awaited<ReturnType<typeof tempDir>>;

  /** The raw config of a setup, for tests that need no vendor. */
  async function rawConfig(): Promise<Record<string, unknown>> {
    const setup = await options.setup();
    await setup.cleanup();
    return setup.config as Record<string, unknown>;
  }

  /**
   * Runs `body` against a fresh fake vendor with a parsed config and an open session (unless
   * `session: false`, for tests that manage their own), and always closes both.
   */
  async function withVendor(
    body: (env: { setup: ConformanceSetup; config: Config; session: unknown; completeImports?: () => Promise<void> }) => Promise<void>,
    { session: wantSession = true } = {},
  ): Promise<void> {
    const setup = await options.setup();
    const config = manager.configSchema.parse(setup.config);
    const session = wantSession ? openSession(manager, config) : undefined;
    try {
      await body({ setup, config, session, completeImports: setup.completeImports?.bind(setup) });
    } finally {
      await closeSession(manager, session);
      await setup.cleanup();
    }
  }

  describe(`manager conformance: ${manager.name}${options.variant ? ` (${options.variant})` : ''}`, () => {
    beforeAll(async () => {
      staging = await tempDir();
    });
    afterAll(async () => {
      await staging.dispose();
    });

    it('(a) parses a valid config and names the field of a broken one', async () => {
      const raw = await rawConfig();
      expect(() => manager.configSchema.parse(raw)).not.toThrow();
      for (const [name, field] of Object.entries(manager.configSchema.fields)) {
        expect(field.doc.trim(), `field "${name}" needs a doc line`).not.toBe('');
      }
      const secrets = secretValues(manager.configSchema.secretFields.map((name) => raw[name]));
      const broken: Array<[string, Record<string, unknown>]> = [['conformanceUnknownField', { ...raw, conformanceUnknownField: 1 }]];
      for (const [name, field] of Object.entries(manager.configSchema.fields)) {
        if (field.required) broken.push([name, Object.fromEntries(Object.entries(raw).filter(([key]) => key !== name))]);
      }
      for (const [name, config] of broken) expectConfigError(caught(() => manager.configSchema.parse(config)), name, secrets);
      // A wrong-typed value may be accepted by a lenient custom field, but must never crash untyped.
      for (const name of Object.keys(manager.configSchema.fields)) {
        const thrown = caught(() => manager.configSchema.parse({ ...raw, [name]: [{ conformance: 'wrong type' }] }));
        if (thrown !== undefined) expectConfigError(thrown, name, secrets);
      }
    });

    it('(b) accounts for every job of a batch exactly once', { timeout: deadlineMs + 10_000 }, async () => {
      await withVendor(async ({ config, session, completeImports }) => {
        const events = options.sampleEvents(25);
        if (options.badEvent) events.splice(7, 0, options.badEvent);
        const built = await buildBatch(manager, config, events, { stagingDir: staging.path });
        expect(built.transformAborted).toHaveLength(options.badEvent ? 1 : 0);
        const { ctx } = callContext(config, { session });
        const result = await manager.upload(built.batch, ctx);
        const imports = result.imports ?? [];
        if (manager.fireAndForget) expect(imports, 'a fire-and-forget manager returned imports').toEqual([]);
        const listed = [...result.outcomes.map((o) => o.jobId), ...imports.flatMap((i) => i.jobs.map((j) => j.jobId))];
        expectExactlyOnce(listed, built.batch.jobIds);
        // Handles and correlation keys are persisted as JSON: they must survive it unchanged.
        expect(JSON.parse(JSON.stringify(imports))).toStrictEqual(imports);
        const settled = await settleUpload(manager, imports, ctx, { uploadId: built.batch.uploadId, completeImports, deadlineMs });
        const final = [...result.outcomes, ...settled];
        final.forEach(expectWellFormed);
        expectExactlyOnce(final.map((o) => o.jobId), built.batch.jobIds);
      });
    });

    it('(c) treats an empty batch as a no-op', async () => {
      await withVendor(async ({ setup, config, session }) => {
        const built = await buildBatch(manager, config, [], { stagingDir: staging.path });
        const before = await setup.vendorCalls?.();
        const result = await manager.upload(built.batch, callContext(config, { session }).ctx);
        expect(result.outcomes).toEqual([]);
        expect(result.imports ?? []).toEqual([]);
        if (before !== undefined) expect(await setup.vendorCalls!(), 'an empty batch reached the vendor').toBe(before);
      });
    });

    it('(d) transform is pure and leaves its input alone', async () => {
      const config = manager.configSchema.parse(await rawConfig());
      for (const sample of options.sampleEvents(5)) {
        const pristine = structuredClone(sample);
        const event = deepFreeze(structuredClone(sample)); // a mutation now throws (ES modules are strict)
        const first = manager.transform({ jobId: '1', event, attempt: 1 }, config);
        const second = manager.transform({ jobId: '1', event, attempt: 1 }, config);
        expect(second).toStrictEqual(first);
        expect(event).toStrictEqual(pristine);
        // Rows are staged as JSON and read back: anything JSON cannot carry would be lost.
        expect(JSON.parse(JSON.stringify(first))).toStrictEqual(first);
      }
    });

    it.runIf(options.badEvent !== undefined)('(e) rejects a bad event with PermanentError', async () => {
      const config = manager.configSchema.parse(await rawConfig());
      const thrown = caught(() => manager.transform({ jobId: '1', event: deepFreeze(structuredClone(options.badEvent!)), attempt: 1 }, config));
      expect(thrown).toBeInstanceOf(PermanentError);
      expect((thrown as Error).message.trim()).not.toBe('');
    });

    it('(f) honours an aborted signal promptly without delivering', async () => {
      await withVendor(async ({ setup, config, session }) => {
        const built = await buildBatch(manager, config, options.sampleEvents(5), { stagingDir: staging.path });
        const before = await setup.vendorCalls?.();
        const { ctx, controller } = callContext(config, { session });
        controller.abort(new Error('conformance: shutdown'));
        const started = Date.now();
        const settled = await within(2_000, manager.upload(built.batch, ctx));
        expect(Date.now() - started).toBeLessThan(2_000);
        if (settled.ok) {
          expect(settled.value.imports ?? []).toEqual([]);
          for (const outcome of settled.value.outcomes) expect(['retry', 'snooze']).toContain(outcome.kind);
        }
        if (before !== undefined) expect(await setup.vendorCalls!(), 'an aborted upload reached the vendor').toBe(before);
      });
    });

    it.runIf(isAsync)('(g) polls a garbage handle to a clean failure', async () => {
      await withVendor(async ({ config, session }) => {
        const open = { importId: 'bogus', uploadId: 'bogus', handle: { bogus: true }, startedAt: Date.now(), pollCount: 0 };
        const settled = await within(5_000, manager.poll(open, callContext(config, { session }).ctx));
        if (settled.ok) {
          expect(settled.value.status).toBe('failed');
          if (settled.value.status === 'failed') expect(settled.value.reason.trim()).not.toBe('');
        } else {
          expect(settled.error, `poll threw an untyped ${String(settled.error)}`).toBeInstanceOf(RouterError);
        }
      });
    });

    it.runIf(isAsync)('(h) finishes an import after a restart between upload and poll', { timeout: deadlineMs + 10_000 }, async () => {
      await withVendor(async ({ config, completeImports }) => {
        const built = await buildBatch(manager, config, options.sampleEvents(10), { stagingDir: staging.path });
        const first = openSession(manager, config);
        let result: UploadResult;
        try {
          result = await manager.upload(built.batch, callContext(config, { session: first }).ctx);
        } finally {
          await closeSession(manager, first);
        }
        // Only what the router persists survives the restart: the handles and keys, as JSON.
        const persisted = JSON.parse(JSON.stringify(result.imports ?? [])) as NonNullable<UploadResult['imports']>;
        const second = openSession(manager, config);
        try {
          const ctx = callContext(config, { session: second }).ctx;
          const settled = await settleUpload(manager, persisted, ctx, { uploadId: built.batch.uploadId, completeImports, deadlineMs });
          const final = [...result.outcomes, ...settled];
          final.forEach(expectWellFormed);
          expectExactlyOnce(final.map((o) => o.jobId), built.batch.jobIds);
        } finally {
          await closeSession(manager, second);
        }
      }, { session: false }); // this test opens and closes its own two sessions
    });

    for (const mode of ['undercount', 'stray-row'] as const) {
      it.runIf(isAsync)(`(i) reports no job succeeded without the vendor's evidence when its results are inconsistent (${mode})`, { timeout: deadlineMs + 10_000 }, async (test) => {
        await withVendor(async ({ setup, config, session, completeImports }) => {
          if (!setup.misreport) {
            // Only a variant whose vendor returns no result listing at all may go without the hook.
            if (options.noResultListing) return test.skip();
            expect.fail(`${manager.name}: an async manager's conformance setup must provide misreport() (ConformanceSetup)`);
          }
          await setup.misreport!(mode);
          const built = await buildBatch(manager, config, options.sampleEvents(10), { stagingDir: staging.path });
          const { ctx } = callContext(config, { session });
          const result = await manager.upload(built.batch, ctx);
          const settled = await settleUpload(manager, result.imports ?? [], ctx, { uploadId: built.batch.uploadId, completeImports, deadlineMs });
          const final = [...result.outcomes, ...settled];
          final.forEach(expectWellFormed);
          expectExactlyOnce(final.map((o) => o.jobId), built.batch.jobIds);
          // The vendor counted a failure it did not attribute to a job: some job's fate is unknown, so
          // at least one must end unconfirmed (re-sent or aborted, with the code), never all succeeded.
          const unconfirmed = final.flatMap((o) => (o.kind !== 'succeeded' && o.code === ERROR_CODES.outcomeUnconfirmed ? [o] : []));
          expect(unconfirmed.length, `${mode}: no job was marked outcome_unconfirmed`).toBeGreaterThan(0);
          expect(final.filter((o) => o.kind === 'succeeded').length).toBeLessThan(built.batch.jobIds.length);
          for (const outcome of unconfirmed) expect(outcome.reason, 'an unconfirmed job says why').toMatch(/unconfirmed/i);
        });
      });
    }
  });
}
