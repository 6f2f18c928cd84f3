/**
 * Vendor-response parsers fed hostile documents and bytes: the async-operations protocol readers
 * and the bulk CSV result-file reader (Marketo failures/warnings, Salesforce results). A parser
 * answers with data (a verdict, an outcome with a reason, `undefined` for "not this shape") or a
 * typed error; never an untyped throw.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { acceptedIds, finalOutcome, outcomesOfResults, resultItems, verdictOf } from '../../managers/async-http/protocol.ts';
import { resultRows } from '../../managers/_bulk-csv/result-file.ts';
import { RetryableError, RouterError } from '../../src/manager/errors.ts';
import { nastyJson, nastyString, RUNS } from './arbitraries.ts';

const outcomeKinds = ['succeeded', 'aborted', 'retry', 'snooze', 'importing'];

describe('fuzz: async-operations protocol readers', () => {
  it('verdictOf and acceptedIds read any document without throwing', () => {
    fc.assert(fc.property(nastyJson, (doc) => {
      const verdict = verdictOf(doc, 'operation op-1');
      expect(typeof verdict.kind).toBe('string');
      const ids = acceptedIds(doc);
      expect(ids === undefined || ids.every((id) => typeof id === 'string')).toBe(true);
      const items = resultItems(doc);
      expect(items === undefined || Array.isArray(items)).toBe(true);
    }), RUNS);
  });

  it('finalOutcome and outcomesOfResults give every job one outcome with a reason when not succeeded', () => {
    fc.assert(fc.property(fc.array(nastyJson, { maxLength: 6 }), fc.integer({ min: 0, max: 6 }), (items, jobs) => {
      const jobIds = Array.from({ length: jobs }, (_, i) => String(i + 1));
      for (const item of items) {
        const outcome = finalOutcome('1', item, 'item 1');
        expect(outcomeKinds).toContain(outcome.kind);
        if (outcome.kind === 'aborted' || outcome.kind === 'retry') expect(outcome.reason.length).toBeGreaterThan(0);
      }
      try {
        const outcomes = outcomesOfResults(jobIds, items, 'results', (i) => `item ${i + 1}`);
        expect(new Set(outcomes.map((o) => o.jobId))).toEqual(new Set(jobIds));
      } catch (error) {
        expect(error).toBeInstanceOf(RouterError);
      }
    }), RUNS);
  });
});

const bytes = fc.oneof(
  fc.uint8Array({ maxLength: 2000 }),
  fc.array(fc.array(nastyString.filter((s) => s.length < 5000), { maxLength: 5 }), { maxLength: 20 })
    .map((rows) => new TextEncoder().encode(rows.map((r) => r.join(',')).join('\n'))),
  fc.constant(new Uint8Array([0xef, 0xbb, 0xbf, 0x61, 0x2c, 0x62, 0x0a, 0xff, 0xfe, 0x2c, 0x22, 0x0a])),
);

describe('fuzz: bulk CSV result files', () => {
  it('resultRows yields rows or rejects with a RetryableError, for any bytes', async () => {
    await fc.assert(fc.asyncProperty(bytes, async (body) => {
      const stream = new Blob([body]).stream();
      try {
        for await (const row of resultRows(stream, ['email', 'firstName'])) expect(typeof row.key).toBe('string');
      } catch (error) {
        // Malformed quoting (csv-parse's error) comes out typed, as a file to read again later.
        expect(error).toBeInstanceOf(RetryableError);
      }
    }), { numRuns: 100 });
  });
});
