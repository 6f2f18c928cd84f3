/**
 * `npm run chaos`: the full chaos run (200,000 events, 30 kills) and its summary table.
 * `--events N --kills K` scale it; exits 1 when anything was lost, stuck or wrong.
 */
import { runChaos } from './scenario.ts';
import { summaryTable } from './summary.ts';

const arg = (name: string, fallback: number) => {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 ? Number(process.argv[at + 1]) : fallback;
};
const events = arg('events', 200_000);
const batchSize = 1000;
const batches = Math.ceil(events / batchSize);
const report = await runChaos({
  apiBatches: Math.ceil(batches * 0.6), cliBatches: Math.floor(batches * 0.4), batchSize,
  kills: arg('kills', 30), killIntervalMs: arg('kill-interval-ms', 4000), settleTimeoutMs: 15 * 60_000,
  log: (line) => console.error(`[chaos ${new Date().toISOString().slice(11, 19)}] ${line}`),
});
console.log(summaryTable(report));
const bad = report.verdict.destinations.some((d) => d.lost || d.stuck || d.abortedWithoutReason || d.wrongOutcome) || report.verdict.idempotencyBreaches > 0;
process.exit(bad ? 1 : 0);
