/**
 * W1 for every system, with the scale runs (batch-router-webhook on top of millions of finished
 * jobs) as one more "system" of each round, then W3 if asked for.
 *
 * Warm-ups first, then the measured runs interleaved (A B C ... A B C ...): drift on a shared
 * machine (other load, thermal state, page cache) spreads over every system instead of favouring
 * one. The scale row's ratio is to the plain W1 of the same rounds, so both saw the same drift.
 */
import { sizeLabel, type BenchSettings } from '../lib/flags.ts';
import { burnDownRow, ingestRow, markRatioToBestPeer, scaleRow } from '../lib/rows.ts';
import type { BurnDownSystem, PhaseResult, RunResult } from '../lib/types.ts';
import { spread } from '../lib/report.ts';
import { runBurnDown, type BurnDownOptions } from '../workloads/burn-down.ts';
import { createHistoryTemplate, createPaddedEmptyTemplate, type HistoryTemplate, type PaddedEmptyTemplate } from '../workloads/history-template.ts';

type Options = Omit<BurnDownOptions, 'n'>;

export async function runBurnDownRounds(systems: readonly BurnDownSystem[], settings: BenchSettings, options: Options): Promise<PhaseResult> {
  const { n, runs, warmupN } = settings;
  const progress = options.progress;
  const scaled = systems.find((s) => s.name === 'batch-router-webhook');
  const templates: HistoryTemplate[] = [];
  let padded: PaddedEmptyTemplate | undefined;
  try {
    // Loaded before any measured run, so the load's I/O never overlaps a measurement.
    if (settings.scale && scaled) {
      for (const destination of settings.scale.destinations) {
        templates.push(await createHistoryTemplate(options.adminUrl, { rows: settings.scale.rows, destination, progress }));
      }
      padded = await createPaddedEmptyTemplate(options.adminUrl, { bytes: Math.max(...templates.map((t) => t.bytes)), progress });
    }
    for (const system of systems) {
      if (warmupN === 0) continue;
      progress(`${system.name}: warm-up, n=${warmupN}`);
      await runBurnDown(system, { ...options, n: warmupN });
    }
    const plain = new Map<string, RunResult[]>(systems.map((s) => [s.name, []]));
    const scale = new Map<HistoryTemplate, RunResult[]>(templates.map((t) => [t, []]));
    const copiedEmpty: RunResult[] = [];
    for (let run = 1; run <= runs; run++) {
      for (const system of systems) {
        progress(`${system.name}: run ${run}/${runs}, n=${n}`);
        plain.get(system.name)!.push(logged(await runBurnDown(system, { ...options, n }), progress));
      }
      if (padded) {
        progress(`batch-router-webhook: scale baseline ${run}/${runs}, n=${n} on an empty store copied like the history`);
        copiedEmpty.push(logged(await runBurnDown(scaled!, { ...options, n, templateDatabase: padded.name }), progress));
      }
      for (const template of templates) {
        progress(`batch-router-webhook: scale run ${run}/${runs}, n=${n} on ${template.rows} finished jobs (${template.destination} destination)`);
        scale.get(template)!.push(logged(await runBurnDown(scaled!, { ...options, n, templateDatabase: template.name }), progress));
      }
    }

    const result: PhaseResult = { rows: [], raw: [] };
    for (const system of systems) {
      const results = plain.get(system.name)!;
      const row = burnDownRow(system.name, results);
      if (system.settingLabel) row.setting = system.settingLabel;
      result.rows.push(row, ingestRow(system.ingestName, results));
      result.raw.push({ system: system.name, workload: 'W1-burn-down', runs: results });
    }
    markRatioToBestPeer(result.rows, new Set(systems.filter((s) => s.peer).map((s) => s.name)));
    const plainMedian = scaled ? spread(plain.get(scaled.name)!.map((r) => r.jobsPerSec)).median : null;
    const copiedMedian = copiedEmpty.length > 0 ? spread(copiedEmpty.map((r) => r.jobsPerSec)).median : null;
    if (copiedEmpty.length > 0) {
      const workload = 'W1-burn-down-empty-copied';
      result.rows.push({ ...burnDownRow('batch-router-webhook', copiedEmpty, workload), setting: `empty store padded to ${(padded!.bytes / 2 ** 30).toFixed(1)} GB, copied like the history` });
      result.raw.push({ system: 'batch-router-webhook', workload, runs: copiedEmpty });
    }
    for (const [template, results] of scale) {
      const workload = `W1-burn-down-${sizeLabel(template.rows)}-finished${template.destination === 'other' ? '-other-destination' : ''}`;
      result.rows.push(scaleRow(results, template, workload, plainMedian, copiedMedian));
      result.raw.push({ system: 'batch-router-webhook', workload, runs: results });
    }
    if (settings.w3) {
      const w3 = await runW3(systems, settings, options);
      result.rows.push(...w3.rows);
      result.raw.push(...w3.raw);
    }
    return result;
  } finally {
    for (const template of templates) await template.drop().catch(() => undefined);
    await padded?.drop().catch(() => undefined);
  }
}

/**
 * W3: the same burn-down with 10% of the sink's answers 500, each system retrying by its own
 * policy (1 s first retry where configurable). Not run: the Marketo fake (no failure knob) and the
 * delivery ceiling (a bound on W1, it does not retry).
 */
async function runW3(systems: readonly BurnDownSystem[], settings: BenchSettings, options: Options): Promise<PhaseResult> {
  const w3Systems = systems.filter((s) => s.name !== 'batch-router-marketo' && s.name !== 'delivery-ceiling');
  const results = new Map<string, RunResult[]>(w3Systems.map((s) => [s.name, []]));
  for (let run = 1; run <= settings.runs; run++) {
    for (const system of w3Systems) {
      options.progress(`${system.name}: W3 run ${run}/${settings.runs}, n=${settings.n}, 10% of sink answers 500`);
      const result = await runBurnDown(system, { ...options, n: settings.n, sinkFailFraction: 0.1 });
      options.progress(`  ${Math.round(result.jobsPerSec)} jobs/s (${result.elapsedSeconds.toFixed(2)} s), dup ${result.duplicates}, lost ${result.lost}, ${result.sinkRejected} requests answered 500`);
      results.get(system.name)!.push(result);
    }
  }
  return {
    rows: w3Systems.map((s) => burnDownRow(s.name, results.get(s.name)!, 'W3-failures-10pct')),
    raw: w3Systems.map((s) => ({ system: s.name, workload: 'W3-failures-10pct', runs: results.get(s.name)! })),
  };
}

/** One progress line per measured run: enough to spot an outlier while the suite runs. */
export function logged(result: RunResult, progress: (line: string) => void): RunResult {
  const wal = result.walBytes === null ? '?' : `${(result.walBytes / 1e6).toFixed(1)} MB`;
  progress(
    `  ${Math.round(result.jobsPerSec)} jobs/s (${result.elapsedSeconds.toFixed(2)} s), ` +
      `consumer ${result.consumer.cpuSeconds.toFixed(1)} CPU s, peak RSS ${result.consumer.peakRssMb.toFixed(0)} MB ` +
      `(${result.consumer.peakRssAtStartMb.toFixed(0)} before start), ` +
      `sink ${result.sink.cpuSeconds.toFixed(1)} CPU s, postgres ${result.pgCpuSeconds?.toFixed(1) ?? '?'} CPU s, WAL ${wal}, ` +
      `dup ${result.duplicates}, lost ${result.lost}, final ${result.finalJobs}, load ${result.loadAverage}`,
  );
  return result;
}
