/**
 * The chaos suite. Short mode is part of `npm run test:slow`: a few thousand events, a few SIGKILLs and one
 * PostgreSQL restart. `npm run chaos` sets CHAOS_MODE=full: 200,000 events and 30 kills
 * (CHAOS_EVENTS and CHAOS_KILLS scale either mode). A vitest file rather than a plain script
 * because the SFTP fake's ssh2 is CommonJS and vitest bridges the module formats.
 */
import { describe, expect, it } from 'vitest';
import { runChaos, type ChaosOptions } from './scenario.ts';
import { summaryTable } from './summary.ts';

const full = process.env.CHAOS_MODE === 'full';
const events = Number(process.env.CHAOS_EVENTS ?? (full ? 200_000 : 4000));
const batchSize = full ? 1000 : 250;
const batches = Math.ceil(events / batchSize);
const options: ChaosOptions = {
  apiBatches: Math.ceil(batches * 0.6),
  cliBatches: Math.floor(batches * 0.4),
  batchSize,
  kills: Number(process.env.CHAOS_KILLS ?? (full ? 30 : 4)),
  killIntervalMs: full ? 4000 : 2500,
  settleTimeoutMs: full ? 20 * 60_000 : 180_000,
  log: (line) => console.error(`[chaos ${new Date().toISOString().slice(11, 19)}] ${line}`),
};

describe(`chaos (${full ? 'full' : 'short'} mode)`, () => {
  it('loses nothing, leaves nothing stuck and keeps idempotency while daemons are killed and PostgreSQL restarts', async () => {
    const report = await runChaos(options);
    console.log(summaryTable(report));
    expect(report.kills).toBeGreaterThanOrEqual(options.kills);
    expect(report.pgRestarts).toBe(1);
    for (const d of report.verdict.destinations) {
      const { destination, lost, stuck, abortedWithoutReason, wrongOutcome, acceptedUnderTwoKeys, examples } = d;
      expect({ destination, lost, stuck, abortedWithoutReason, wrongOutcome, acceptedUnderTwoKeys, examples })
        .toEqual({ destination, lost: 0, stuck: 0, abortedWithoutReason: 0, wrongOutcome: 0, acceptedUnderTwoKeys: 0, examples: [] });
      expect(d.produced).toBeGreaterThan(0);
    }
    expect(report.verdict.idempotencyBreaches).toBe(0);
  }, full ? 60 * 60_000 : 600_000);
});
