/**
 * No job succeeds without Marketo's evidence: results are reconciled against the import's totals,
 * result files that come late are read again, and jobs whose fate stays unknown follow the
 * `unconfirmedRows` policy with code `outcome_unconfirmed`. Also how result files are matched to
 * jobs when Marketo writes them its own way (order, quoting, trimmed values, header case).
 */
import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../src/manager/error-codes.ts';
import { deliver, leads, marketoTestEnv } from './test/helpers.ts';
import type { MarketoFakeOptions } from './test/marketo-fake.ts';

describe('marketo-bulk-upload reconciles results with Marketo totals', () => {
  const env = marketoTestEnv();
  const start = (options: MarketoFakeOptions = {}) => env.start(options);
  const failBad = { rowOutcome: (row: Record<string, string>) => (row.email!.startsWith('bad') ? { fail: '1004 Lead not found' } : undefined) };

  for (const mode of ['undercount', 'stray-row'] as const) {
    it(`re-reads, then re-sends every job without evidence when Marketo ${mode === 'undercount' ? 'counts a failure it does not list' : 'lists a failure that matches no job'}`, async () => {
      await start(failBad);
      env.fake.misreport(mode);
      const { outcomes } = await deliver(env.fake, env.stagingDir, [...leads(6), { email: 'bad@example.com', firstName: 'x' }], { resultRereads: 2 });
      expect(outcomes.size).toBe(7);
      const kinds = [...outcomes.values()].map((o) => o.kind);
      expect(kinds.filter((k) => k === 'succeeded')).toEqual([]);
      const bad = [...outcomes.values()].find((o) => o.kind === 'aborted')!;
      expect(bad).toMatchObject({ reason: 'Marketo rejected the row: 1004 Lead not found', code: ERROR_CODES.recordRejected, vendorCode: '1004' });
      const unconfirmed = [...outcomes.values()].filter((o) => o.kind === 'retry');
      expect(unconfirmed).toHaveLength(6);
      for (const outcome of unconfirmed) {
        expect(outcome).toMatchObject({ code: ERROR_CODES.outcomeUnconfirmed, reason: expect.stringMatching(/outcome unconfirmed, re-sent$/) });
      }
      expect(unconfirmed[0]!.kind === 'retry' && unconfirmed[0]!.reason).toContain(mode === 'undercount' ? 'Marketo counted 2 failed rows but listed 1' : '1 listed failed rows match no job');
      // The first read and two re-reads, never more.
      expect(env.fake.requests('results')).toHaveLength(3);
    });
  }

  it('aborts the unconfirmed jobs under unconfirmedRows "abort"', async () => {
    await start();
    env.fake.misreport('undercount');
    const { outcomes } = await deliver(env.fake, env.stagingDir, leads(4), { unconfirmedRows: 'abort', resultRereads: 0 });
    expect([...outcomes.values()].map((o) => [o.kind, 'code' in o ? o.code : undefined])).toEqual(Array(4).fill(['aborted', ERROR_CODES.outcomeUnconfirmed]));
    const first = [...outcomes.values()][0]!;
    expect(first.kind === 'aborted' && first.reason).toBe('Marketo counted 1 failed rows but listed 0; outcome unconfirmed, not re-sent (unconfirmedRows: "abort")');
  });

  it('reads a failure file again when it arrives late, and then trusts it', async () => {
    await start({ ...failBad, lateResultReads: 2 });
    const { outcomes, ids } = await deliver(env.fake, env.stagingDir, [...leads(3), { email: 'bad1@example.com' }], { resultRereads: 3 });
    expect(env.fake.requests('results').map((r) => r.status)).toEqual([404, 404, 200]);
    expect(outcomes.get(ids[3]!)).toMatchObject({ kind: 'aborted', vendorCode: '1004' });
    expect(ids.slice(0, 3).map((id) => outcomes.get(id)!.kind)).toEqual(['succeeded', 'succeeded', 'succeeded']);
  });

  it('matches rows Marketo writes its own way: other order, every cell quoted, values trimmed, its header case', async () => {
    await start({ rowOutcome: (row) => (row.firstName === 'Padded' ? { fail: 'Invalid data type in field Lead Score' } : row.email === 'warn@example.com' ? { warn: 'Value truncated' } : undefined) });
    const events = [
      { email: 'a@example.com', firstName: 'A' },
      { email: '  padded@example.com ', firstName: ' Padded ' },
      { email: 'warn@example.com', firstName: 'W' },
      { email: 'z@example.com', firstName: 'Z' },
    ];
    // Mapped to "EMAIL" and "FirstName": Marketo writes the header back as "email", "firstName".
    const { outcomes, ids } = await deliver(env.fake, env.stagingDir, events, { fieldMapping: { email: 'EMAIL', firstName: 'FirstName' }, lookupField: 'EMAIL' });
    const imp = [...env.fake.imports.values()][0]!;
    expect(imp.header).toEqual(['email', 'firstName']);
    expect(outcomes.get(ids[1]!)).toMatchObject({ kind: 'aborted', reason: 'Marketo rejected the row: Invalid data type in field Lead Score' });
    expect(outcomes.get(ids[2]!)).toEqual({ jobId: ids[2], kind: 'succeeded', warning: 'Marketo warning: Value truncated' });
    expect([ids[0], ids[3]].map((id) => outcomes.get(id!)!.kind)).toEqual(['succeeded', 'succeeded']);
  });

  it('keeps two rows with the same lookup key apart, and the later row wins in Marketo', async () => {
    let copies = 0;
    await start({ rowOutcome: (row) => (row.email === 'dup@example.com' && copies++ === 0 ? { fail: 'Lock wait timeout exceeded; try restarting transaction' } : undefined) });
    const events = [{ email: 'dup@example.com', firstName: 'First' }, { email: 'dup@example.com', firstName: 'Second' }, { email: 'x@example.com', firstName: 'X' }];
    const { outcomes, ids } = await deliver(env.fake, env.stagingDir, events);
    expect(outcomes.get(ids[0]!)).toMatchObject({ kind: 'retry', code: ERROR_CODES.recordRetryable });
    expect(outcomes.get(ids[1]!)!.kind).toBe('succeeded');
    expect(env.fake.leads.get('dup@example.com')?.firstName).toBe('Second');
  });
});
