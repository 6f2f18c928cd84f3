/** reconcileOutcomes: one verdict per expected job, whatever order or mistakes a manager makes. */
import { describe, expect, it } from 'vitest';
import type { JobOutcome } from '../../src/manager/contract.ts';
import { MISSING_OUTCOME, reconcileOutcomes } from '../../src/router/outcomes.ts';
import { silentLog } from '../helpers/router.ts';

const ok = (jobId: string): JobOutcome => ({ jobId, kind: 'succeeded' });

describe('reconcileOutcomes', () => {
  it('keeps an in-order answer as it is', () => {
    const outcomes = ['1', '2', '3'].map(ok);
    expect(reconcileOutcomes(['1', '2', '3'], outcomes, [], silentLog)).toEqual({ outcomes, imports: [] });
  });

  it('accepts any order, drops strays and repeats, and retries what was left out', () => {
    const result = reconcileOutcomes(
      ['1', '2', '3', '4'],
      [ok('3'), { jobId: '1', kind: 'aborted', reason: 'no' }, ok('1'), ok('99')],
      [{ handle: { id: 'imp' }, jobs: [{ jobId: '2' }, { jobId: '3' }] }],
      silentLog,
    );
    expect(result.imports).toEqual([{ handle: { id: 'imp' }, jobs: [{ jobId: '2' }, { jobId: '3' }] }]);
    expect(result.outcomes).toEqual([
      { jobId: '1', kind: 'aborted', reason: 'no' },
      { jobId: '4', kind: 'retry', reason: MISSING_OUTCOME, code: 'no_outcome' },
    ]);
  });

  it('does not take a same-length answer with a repeat for a complete one', () => {
    const result = reconcileOutcomes(['1', '2'], [ok('1'), ok('1')], [], silentLog);
    expect(result.outcomes).toEqual([ok('1'), { jobId: '2', kind: 'retry', reason: MISSING_OUTCOME, code: 'no_outcome' }]);
  });
});
