/**
 * `npm run bench -- --soak`: batch-router-webhook at a fixed rate for an hour (default) with
 * retention on and short, sampled as it goes (stderr), summarised with verdicts (stdout), all
 * samples written to bench/results/soak.json. The rate should be 70% of the peak measured by W1/W2
 * on the same machine: pass it with --soak-rate. See bench/README.md, "Soak".
 */
import { fileURLToPath } from 'node:url';
import { DEFAULT_DATABASE_URL, serverVersion } from './lib/pg.ts';
import { machine, versions, writeResults } from './lib/report.ts';
import { readSoakSettings, SOAK_USAGE } from './lib/soak-flags.ts';
import { formatSoakSummary, summarizeSoak } from './lib/soak-summary.ts';
import { FROZEN_TUNING } from './systems/batch-router-webhook.ts';
import { runSoak } from './workloads/soak.ts';

const settings = readSoakSettings();
if (settings === 'help') {
  process.stdout.write(SOAK_USAGE);
  process.exit(0);
}
const adminUrl = process.env.DATABASE_URL || DEFAULT_DATABASE_URL;
const progress = (line: string) => process.stderr.write(`${line}\n`);
const machineInfo = machine(await serverVersion(adminUrl));
const startedAt = new Date();
progress(`soak: batch-router-webhook at ${settings.ratePerSec} events/s for ${settings.seconds} s, a sample every ${settings.sampleSeconds} s, `
  + `retention ${settings.retentionMaxAgeMs / 1000} s, sweeps every ${settings.sweepIntervalMs / 1000} s`);
const result = await runSoak({
  adminUrl,
  ...settings,
  // Enough for a backlog of a tenth of the run to drain, never less than a minute.
  graceMs: Math.max(60_000, settings.seconds * 100),
  progress,
});
const summary = summarizeSoak(settings.ratePerSec, result);
process.stdout.write(`\n${formatSoakSummary(summary)}\n`);
const out = settings.out ?? fileURLToPath(new URL('./results/soak.json', import.meta.url));
await writeResults(out, {
  startedAt: startedAt.toISOString(),
  machine: machineInfo,
  versions: await versions(),
  settings: { ...settings, tuning: FROZEN_TUNING, daemonEnv: result.daemonEnv },
  producer: result.producer,
  summary,
  samples: result.samples,
});
progress(`results written to ${out} (${Math.round((Date.now() - startedAt.getTime()) / 1000)} s)`);
if (!summary.throughputFlat || !summary.tablesBounded || summary.lost > 0 || summary.duplicates > 0) process.exitCode = 1;
