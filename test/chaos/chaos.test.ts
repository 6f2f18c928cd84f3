/**
 * The chaos suite's short mode, part of `npm test`: a few thousand events, a few SIGKILLs and one
 * PostgreSQL restart in about a minute. `npm run chaos` is the full run (test/chaos/run.ts).
 */
import { describe, expect, it } from 'vitest';
import { runChaos } from './scenario.ts';
import { summaryTable } from './summary.ts';

describe('chaos (short mode)', () => {
  it('loses nothing, leaves nothing stuck and keeps idempotency while daemons are killed and PostgreSQL restarts', async () => {
    const report = await runChaos({ apiBatches: 12, cliBatches: 4, batchSize: 250, kills: 4, killIntervalMs: 3000, settleTimeoutMs: 120_000 });
    console.log(summaryTable(report));
    expect(report.kills).toBe(4);
    expect(report.pgRestarts).toBe(1);
    for (const d of report.verdict.destinations) {
      expect({ destination: d.destination, lost: d.lost, stuck: d.stuck, abortedWithoutReason: d.abortedWithoutReason, wrongOutcome: d.wrongOutcome, examples: d.examples })
        .toEqual({ destination: d.destination, lost: 0, stuck: 0, abortedWithoutReason: 0, wrongOutcome: 0, examples: [] });
      expect(d.produced).toBeGreaterThan(0);
    }
    expect(report.verdict.idempotencyBreaches).toBe(0);
  }, 300_000);
});
