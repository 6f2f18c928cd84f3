/**
 * CLI ingest: `batch-router enqueue` from an NDJSON file next to a read-and-parse baseline
 * (workloads/cli-ingest.ts), once per round, so the two alternate A B A B over the rounds.
 */
import type { BenchSettings } from '../lib/flags.ts';
import { cliRows } from '../lib/rows.ts';
import type { PhaseResult } from '../lib/types.ts';
import { runCliIngest, type CliIngestRun } from '../workloads/cli-ingest.ts';

export async function runCliRounds(settings: BenchSettings, options: { adminUrl: string; progress: (line: string) => void }): Promise<PhaseResult> {
  const runs: CliIngestRun[] = [];
  for (let run = 1; run <= settings.runs; run++) {
    const result = await runCliIngest({ adminUrl: options.adminUrl, n: settings.n, tag: `cli${run}` });
    options.progress(
      `cli ingest run ${run}/${settings.runs}: batch-router enqueue ${Math.round(result.n / result.cliSeconds)} events/s ` +
        `(${result.cliSeconds.toFixed(2)} s, ${result.cliStartupSeconds.toFixed(2)} s of it start-up), ` +
        `read-and-parse baseline ${Math.round(result.n / result.baselineSeconds)} events/s (${result.baselineSeconds.toFixed(2)} s)`,
    );
    runs.push(result);
  }
  return { rows: cliRows(runs), raw: [{ system: 'batch-router-cli-enqueue', workload: 'ingest-cli', runs }] };
}
