/**
 * No job ends succeeded without Salesforce's evidence: each ingest job is reconciled against its
 * totals and its three result sets, read again while they are incomplete, and the jobs whose fate
 * stays unknown get the unconfirmed-outcome policy (abort for insert, resend for the idempotent
 * operations), with code outcome_unconfirmed and a warning naming the import.
 */
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { JobOutcome, JsonObject } from '../../src/manager/contract.ts';
import type { SalesforceFakeOptions } from './test/fake.ts';
import { salesforceTestEnv } from './test/helpers.ts';
import salesforce from './index.ts';

const contacts = (n: number): JsonObject[] => Array.from({ length: n }, (_, i) => ({ email: `c${i}@example.com`, firstName: `First, "${i}"`, lastName: `Last ${i}` }));

describe('salesforce-bulk: every outcome backed by a result row', () => {
  const env = salesforceTestEnv();

  /** Uploads `events`, finishes the ingest jobs and returns every job's final outcome plus the warnings logged. */
  async function settle(events: JsonObject[], options: SalesforceFakeOptions = {}, config: Record<string, unknown> = {}, before?: () => void) {
    await env.start(options);
    const prepared = await env.prepare(events, config, { uploadId: '9' });
    const warnings: Array<Record<string, unknown>> = [];
    const log = pino({ level: 'warn' }, { write: (line: string) => void warnings.push(JSON.parse(line) as Record<string, unknown>) });
    const ctx = { ...prepared.ctx, log };
    const result = await salesforce.upload(prepared.built.batch, ctx);
    before?.();
    env.fake.completeAll();
    const outcomes: JobOutcome[] = [...result.outcomes];
    for (const [index, made] of (result.imports ?? []).entries()) {
      const open = { importId: `imp-${index}`, uploadId: '9', handle: made.handle, startedAt: Date.now(), pollCount: 0 };
      expect(await salesforce.poll(open, ctx)).toMatchObject({ status: 'completed' });
      outcomes.push(...(await salesforce.getUploadStats(open, made.jobs.map((j) => ({ jobId: j.jobId, correlationKey: j.correlationKey ?? null })), ctx)));
    }
    return { outcomes, ids: prepared.built.batch.jobIds, warnings };
  }
  const byKind = (outcomes: JobOutcome[], kind: JobOutcome['kind']) => outcomes.filter((o) => o.kind === kind);

  it('reads successes too: a clean job is settled by its success rows, whatever their order', async () => {
    const { outcomes, ids } = await settle(contacts(5));
    expect(outcomes.map((o) => o.jobId).sort()).toEqual([...ids].sort());
    expect(outcomes.every((o) => o.kind === 'succeeded')).toBe(true);
    expect(env.fake.requests().filter((r) => /Results|unprocessed/.test(r.route)).map((r) => r.route)).toEqual(['successfulResults', 'failedResults', 'unprocessedrecords']);
  });

  it('undercount on insert: the job the totals count but no row lists is aborted as unconfirmed, and the import is named in a warning', async () => {
    const { outcomes, ids, warnings } = await settle(contacts(4), {}, {}, () => env.fake.misreport('undercount'));
    const unconfirmed = outcomes.filter((o) => o.kind !== 'succeeded' && o.code === 'outcome_unconfirmed');
    expect(unconfirmed).toEqual([{ jobId: ids[0], kind: 'aborted', code: 'outcome_unconfirmed', reason: expect.stringMatching(/^Salesforce counted 1 failures but listed 0 .*outcome unconfirmed, not sent again \("insert"/) }]);
    expect(byKind(outcomes, 'succeeded')).toHaveLength(3);
    expect(warnings).toEqual([expect.objectContaining({ importId: 'imp-0', msg: expect.stringContaining('import imp-0') })]);
    // Read as often as configured before giving up: the listing might still have been written.
    expect(env.fake.requests('failedResults')).toHaveLength(3);
  });

  it('undercount on upsert: the unconfirmed record is sent again (retry), per the resend policy', async () => {
    const { outcomes, ids } = await settle(contacts(4), {}, { operation: 'upsert', externalIdFieldName: 'Email' }, () => env.fake.misreport('undercount'));
    expect(outcomes.find((o) => o.jobId === ids[0])).toEqual({ jobId: ids[0], kind: 'retry', code: 'outcome_unconfirmed', reason: expect.stringContaining('sent again ("upsert" is idempotent)') });
  });

  it('a failure row that matches no job leaves that job unconfirmed, never succeeded', async () => {
    const { outcomes, ids, warnings } = await settle(contacts(4), {}, { unconfirmedOutcome: 'resend' }, () => env.fake.misreport('stray-row'));
    expect(outcomes.find((o) => o.jobId === ids[0])).toMatchObject({ kind: 'retry', code: 'outcome_unconfirmed', reason: expect.stringContaining('1 rows matching no record') });
    expect(byKind(outcomes, 'succeeded').map((o) => o.jobId)).not.toContain(ids[0]);
    expect(warnings).toHaveLength(1);
  });

  it('results that arrive late are read again until they add up: nothing unconfirmed', async () => {
    const bad = (row: Record<string, string>) => (row.Email === 'c2@example.com' ? { error: 'INVALID_EMAIL_ADDRESS:Email: invalid email address:--' } : undefined);
    const { outcomes, ids, warnings } = await settle(contacts(5), { lateResultReads: 1, rowOutcome: bad });
    expect(outcomes.filter((o) => o.kind !== 'succeeded')).toEqual([
      { jobId: ids[2], kind: 'aborted', code: 'record_rejected', vendorCode: 'INVALID_EMAIL_ADDRESS', reason: expect.stringContaining('INVALID_EMAIL_ADDRESS') },
    ]);
    expect(warnings).toEqual([]);
    expect(env.fake.requests('successfulResults')).toHaveLength(2);
  });

  it('follows Sforce-Locator pages of a result set', async () => {
    const { outcomes } = await settle(contacts(7), { resultPageSize: 2 });
    expect(byKind(outcomes, 'succeeded')).toHaveLength(7);
    expect(env.fake.requests('successfulResults').map((r) => r.url.replace(/.*\//, ''))).toEqual(['', '?locator=2', '?locator=4', '?locator=6']);
  });

  it('records left unprocessed because the org ran out of its daily record allowance wait (snooze), they do not spend attempts', async () => {
    const { outcomes } = await settle(contacts(5), { recordAllowance: 3 });
    expect(byKind(outcomes, 'succeeded')).toHaveLength(3);
    expect(byKind(outcomes, 'snooze')).toEqual([
      expect.objectContaining({ kind: 'snooze', code: 'vendor_busy', retryAfterMs: 3_600_000, reason: expect.stringContaining('24-hour Bulk API record allowance') }),
      expect.objectContaining({ kind: 'snooze' }),
    ]);
  });

  it('rows sharing an external id in one job all fail as Salesforce fails them, each with its own DUPLICATE_VALUE', async () => {
    const events = [...contacts(2), { email: 'c0@example.com', firstName: 'Again', lastName: 'Twin' }];
    const { outcomes, ids } = await settle(events, {}, { operation: 'upsert', externalIdFieldName: 'Email' });
    expect(byKind(outcomes, 'aborted').map((o) => [o.jobId, 'vendorCode' in o && o.vendorCode])).toEqual([[ids[0], 'DUPLICATE_VALUE'], [ids[2], 'DUPLICATE_VALUE']]);
  });
});
